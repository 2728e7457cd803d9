//! Environment state of one frame (sun, sky, ambient light), computed on plain inputs so it sits
//! below the scene: the scene's environment job ([`crate::scene::FrameGraph`]) fills an
//! [`EnvironmentFrame`] each frame, and the renderer lights and clears with exactly that value.
//!
//! Today the sun and sky are fixed per scene; a day/night cycle computes the same struct from the
//! frame's time.

use glam::Vec3;

/// The environment of one frame, as the renderer uses it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EnvironmentFrame {
    /// Unit vector towards the sun.
    pub to_sun: Vec3,
    /// Sun colour and intensity, linear.
    pub sun_color: Vec3,
    /// Ambient light level, linear.
    pub ambient: f32,
    /// Sky (clear) colour, sRGB 0..1.
    pub sky: Vec3,
}

/// The inputs of [`EnvironmentFrame::compute`]: a scene's environment settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnvironmentInputs {
    /// Direction the sunlight travels (need not be normalised; zero means straight down).
    pub sun_direction: Vec3,
    /// Sun colour and intensity, linear.
    pub sun_color: Vec3,
    /// Ambient light level, linear.
    pub ambient: f32,
    /// Sky colour, sRGB 0..1.
    pub sky: Vec3,
}

impl EnvironmentFrame {
    /// The environment at scene time `_time` (fixed sun and sky: the time is not used yet).
    pub fn compute(inputs: &EnvironmentInputs, _time: f32) -> Self {
        Self {
            to_sun: (-inputs.sun_direction).normalize_or(Vec3::Y),
            sun_color: inputs.sun_color,
            ambient: inputs.ambient,
            sky: inputs.sky,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sun_points_against_the_light_and_a_zero_direction_is_overhead() {
        let mut inputs = EnvironmentInputs {
            sun_direction: Vec3::new(0.0, -2.0, 0.0),
            sun_color: Vec3::ONE,
            ambient: 0.3,
            sky: Vec3::new(0.5, 0.6, 0.7),
        };
        let e = EnvironmentFrame::compute(&inputs, 0.0);
        assert_eq!(e.to_sun, Vec3::Y);
        assert_eq!(e.sky, inputs.sky);
        assert_eq!(e.ambient, 0.3);
        inputs.sun_direction = Vec3::ZERO;
        assert_eq!(EnvironmentFrame::compute(&inputs, 1.0).to_sun, Vec3::Y);
    }
}
