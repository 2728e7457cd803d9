//! The window's camera: an orbit around a focus point, driven by the mouse (left drag orbits,
//! right or middle drag pans, the wheel zooms). Starts from the scene's camera and turns back
//! into a [`Camera`] for the renderer, so the first frame equals the scene's own view.

use crate::scene::Camera;
use glam::Vec3;

/// Radians per pixel of drag.
const ORBIT_SPEED: f32 = 0.006;
/// Closest and farthest distance to the focus.
const MIN_DISTANCE: f32 = 0.2;
/// Pitch stays this far from straight up or down (radians).
const PITCH_LIMIT: f32 = 1.55;

/// An orbit camera (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct OrbitCamera {
    /// The point orbited.
    pub focus: Vec3,
    /// Distance from the focus.
    pub distance: f32,
    /// Angle around the vertical axis, radians.
    pub yaw: f32,
    /// Angle above the horizontal, radians.
    pub pitch: f32,
    base: Camera,
    /// False until the first orbit, pan or zoom: the scene's camera is then used as is.
    moved: bool,
}

impl OrbitCamera {
    /// The orbit that reproduces `camera` exactly.
    pub fn from_camera(camera: &Camera) -> Self {
        let eye = Vec3::from(camera.eye);
        let focus = Vec3::from(camera.target);
        let offset = eye - focus;
        let distance = offset.length().max(MIN_DISTANCE);
        let dir = offset / distance;
        Self {
            focus,
            distance,
            yaw: dir.x.atan2(dir.z),
            pitch: dir.y.clamp(-1.0, 1.0).asin(),
            base: camera.clone(),
            moved: false,
        }
    }

    /// The renderer's camera: the scene's lens, this orbit's eye and target. An orbit that has
    /// not moved gives the scene's camera back.
    pub fn camera(&self) -> Camera {
        if !self.moved {
            return self.base.clone();
        }
        let dir = Vec3::new(
            self.pitch.cos() * self.yaw.sin(),
            self.pitch.sin(),
            self.pitch.cos() * self.yaw.cos(),
        );
        let eye = self.focus + dir * self.distance;
        Camera {
            eye: eye.into(),
            target: self.focus.into(),
            far: self.base.far.max(self.distance * 4.0),
            ..self.base.clone()
        }
    }

    /// Orbit by a drag of (`dx`, `dy`) pixels.
    pub fn orbit(&mut self, dx: f32, dy: f32) {
        self.moved = true;
        self.yaw -= dx * ORBIT_SPEED;
        self.pitch = (self.pitch + dy * ORBIT_SPEED).clamp(-PITCH_LIMIT, PITCH_LIMIT);
    }

    /// Move the focus by a drag of (`dx`, `dy`) pixels in a view `height` pixels tall: the point
    /// under the cursor stays under it.
    pub fn pan(&mut self, dx: f32, dy: f32, height: f32) {
        self.moved = true;
        let cam = self.camera();
        let forward = (self.focus - Vec3::from(cam.eye)).normalize_or(Vec3::NEG_Z);
        let right = forward.cross(Vec3::Y).normalize_or(Vec3::X);
        let up = right.cross(forward);
        let units_per_px =
            2.0 * self.distance * (self.base.fov_y.to_radians() * 0.5).tan() / height.max(1.0);
        self.focus += (-right * dx + up * dy) * units_per_px;
    }

    /// Zoom by `steps` wheel notches (positive: closer), 10 % per notch.
    pub fn zoom(&mut self, steps: f32) {
        self.moved = true;
        self.distance = (self.distance * 0.9f32.powf(steps)).clamp(MIN_DISTANCE, self.base.far);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene_camera() -> Camera {
        Camera {
            eye: (0.0, 2.2, 6.4),
            target: (0.0, 0.6, 0.3),
            fov_y: 40.0,
            near: 0.05,
            far: 100.0,
        }
    }

    fn close(a: (f32, f32, f32), b: (f32, f32, f32)) -> bool {
        (Vec3::from(a) - Vec3::from(b)).length() < 1e-4
    }

    #[test]
    fn an_unmoved_orbit_is_the_scene_camera() {
        let mut o = OrbitCamera::from_camera(&scene_camera());
        assert_eq!(o.camera(), scene_camera());
        // A zero drag recomputes the eye from the angles: the same place.
        o.orbit(0.0, 0.0);
        let c = o.camera();
        assert!(close(c.eye, scene_camera().eye), "{:?}", c.eye);
        assert!(close(c.target, scene_camera().target));
        assert_eq!(c.fov_y, 40.0);
    }

    #[test]
    fn orbit_keeps_the_distance_and_zoom_changes_it() {
        let mut o = OrbitCamera::from_camera(&scene_camera());
        let d = o.distance;
        o.orbit(120.0, -40.0);
        let c = o.camera();
        assert!(((Vec3::from(c.eye) - Vec3::from(c.target)).length() - d).abs() < 1e-3);
        assert!(!close(c.eye, scene_camera().eye));
        o.zoom(1.0);
        assert!((o.distance - d * 0.9).abs() < 1e-4);
        o.zoom(-1000.0);
        assert_eq!(o.distance, 100.0);
        o.orbit(0.0, 1e6);
        assert!(o.pitch <= PITCH_LIMIT);
    }

    #[test]
    fn pan_moves_eye_and_target_together() {
        let mut o = OrbitCamera::from_camera(&scene_camera());
        let before = o.camera();
        o.pan(50.0, 0.0, 360.0);
        let after = o.camera();
        let de = Vec3::from(after.eye) - Vec3::from(before.eye);
        let dt = Vec3::from(after.target) - Vec3::from(before.target);
        assert!((de - dt).length() < 1e-4);
        assert!(dt.length() > 0.01);
        // Dragging right moves the focus left (the scene follows the cursor).
        assert!(dt.x < 0.0, "{dt}");
    }
}
