//! Animations: glTF samplers and channels read into [`Clip`]s, within [`MAX_ANIMATION_KEYS`].

use super::{AssetError, Importer};
use crate::assets::limits::MAX_ANIMATION_KEYS;
use crate::assets::{Channel, Clip, Interpolation, Property};
use glam::{Vec3, Vec4};
use gltf::accessor::{DataType, Dimensions};
use std::collections::HashMap;

impl Importer {
    /// Every animation of the file as a clip; channels that target nodes outside the scene are
    /// dropped. Counts are checked before reading: outputs against inputs, keys against
    /// [`MAX_ANIMATION_KEYS`].
    pub(super) fn clips<'a, 's, F>(
        &self,
        doc: &'a gltf::Document,
        node_map: &HashMap<usize, usize>,
        get: F,
    ) -> Result<Vec<Clip>, AssetError>
    where
        F: Clone + Fn(gltf::Buffer<'a>) -> Option<&'s [u8]>,
    {
        let mut clips = Vec::new();
        let mut keys = 0usize;
        for anim in doc.animations() {
            let mut channels = Vec::new();
            let mut duration = 0.0f32;
            for ch in anim.channels() {
                let Some(&node) = node_map.get(&ch.target().node().index()) else {
                    continue;
                };
                let property = match ch.target().property() {
                    gltf::animation::Property::Translation => Property::Translation,
                    gltf::animation::Property::Rotation => Property::Rotation,
                    gltf::animation::Property::Scale => Property::Scale,
                    gltf::animation::Property::MorphTargetWeights => {
                        tracing::warn!(
                            "{}: morph target animation is not supported; channel skipped",
                            self.path.display()
                        );
                        continue;
                    }
                };
                let interpolation = match ch.sampler().interpolation() {
                    gltf::animation::Interpolation::Step => Interpolation::Step,
                    gltf::animation::Interpolation::Linear => Interpolation::Linear,
                    gltf::animation::Interpolation::CubicSpline => Interpolation::CubicSpline,
                };
                let per_key = if interpolation == Interpolation::CubicSpline {
                    3
                } else {
                    1
                };
                // Counts first: nothing is read (or allocated) beyond what the limit allows.
                let (inputs, outputs) = (ch.sampler().input(), ch.sampler().output());
                if inputs.count().saturating_mul(per_key) != outputs.count() {
                    return Err(self.invalid(format!(
                        "animation {} channel {}: {} key times but {} values; {interpolation:?} needs {per_key} value(s) per key",
                        anim.index(),
                        ch.index(),
                        inputs.count(),
                        outputs.count()
                    )));
                }
                keys = keys.saturating_add(inputs.count());
                if keys > MAX_ANIMATION_KEYS {
                    return Err(self.invalid(format!(
                        "the animations have more than {MAX_ANIMATION_KEYS} key frames in all; resample them more coarsely"
                    )));
                }
                let what =
                    |io: &str| format!("animation {} channel {} {io}", anim.index(), ch.index());
                self.check_type(
                    &inputs,
                    &what("input"),
                    &[DataType::F32],
                    Dimensions::Scalar,
                )?;
                match property {
                    Property::Rotation => {
                        use DataType::{F32, I8, I16, U8, U16};
                        let kinds = [F32, I8, U8, I16, U16];
                        self.check_type(&outputs, &what("output"), &kinds, Dimensions::Vec4)?;
                    }
                    Property::Translation | Property::Scale => {
                        let kinds = [DataType::F32];
                        self.check_type(&outputs, &what("output"), &kinds, Dimensions::Vec3)?;
                    }
                }
                let reader = ch.reader(get.clone());
                let times: Vec<f32> = reader
                    .read_inputs()
                    .ok_or_else(|| {
                        self.invalid(format!(
                            "animation {} has a sampler without input",
                            anim.index()
                        ))
                    })?
                    .collect();
                let values: Vec<Vec4> = match reader.read_outputs() {
                    Some(gltf::animation::util::ReadOutputs::Translations(it)) => {
                        it.map(|v| Vec3::from(v).extend(0.0)).collect()
                    }
                    Some(gltf::animation::util::ReadOutputs::Scales(it)) => {
                        it.map(|v| Vec3::from(v).extend(0.0)).collect()
                    }
                    Some(gltf::animation::util::ReadOutputs::Rotations(r)) => {
                        r.into_f32().map(Vec4::from).collect()
                    }
                    _ => {
                        return Err(self.invalid(format!(
                            "animation {} has a sampler without usable output",
                            anim.index()
                        )));
                    }
                };
                if times.is_empty() || values.len() != times.len() * per_key {
                    return Err(self.invalid(format!(
                        "animation {}: {} key times but {} values",
                        anim.index(),
                        times.len(),
                        values.len()
                    )));
                }
                if times.windows(2).any(|w| w[1] < w[0]) || times.iter().any(|t| !t.is_finite()) {
                    return Err(self.invalid(format!(
                        "animation {}: key times must be finite and ascending",
                        anim.index()
                    )));
                }
                if !values.iter().all(|v| v.is_finite()) {
                    return Err(self.invalid(format!(
                        "animation {}: a key value is not finite (NaN or infinity)",
                        anim.index()
                    )));
                }
                duration = duration.max(*times.last().unwrap_or(&0.0));
                channels.push(Channel {
                    node,
                    property,
                    interpolation,
                    times,
                    values,
                });
            }
            clips.push(Clip {
                name: anim
                    .name()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("clip{}", anim.index())),
                duration,
                channels,
            });
        }
        Ok(clips)
    }
}
