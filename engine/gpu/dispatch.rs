//! Compute dispatches larger than one dimension allows.
//!
//! A device runs at most `max_compute_workgroups_per_dimension` workgroups along each axis of a
//! dispatch (65,535 on most devices). A pass that needs more workgroups than that folds its
//! one-dimensional workgroup count into two dimensions with [`split_workgroups`]; its shader
//! then numbers the workgroups `workgroup_id.y * num_workgroups.x + workgroup_id.x` and skips
//! the ids at or past the count it was asked for (the split can add up to `x - 1` workgroups).

/// The dispatch `[x, y]` that covers `workgroups` workgroups when each dimension allows at
/// most `max_per_dimension`: `x = min(workgroups, max)`, `y = ceil(workgroups / x)`.
///
/// Returns `None` when even two dimensions are not enough (`workgroups > max²`), or when
/// `max_per_dimension` is 0 and there is work to do. Zero workgroups give `[0, 1]` (an empty
/// dispatch, which wgpu accepts).
pub fn split_workgroups(workgroups: u32, max_per_dimension: u32) -> Option<[u32; 2]> {
    if workgroups == 0 {
        return Some([0, 1]);
    }
    if max_per_dimension == 0 {
        return None;
    }
    let x = workgroups.min(max_per_dimension);
    let y = workgroups.div_ceil(x);
    (y <= max_per_dimension).then_some([x, y])
}

/// The most workgroups [`split_workgroups`] can cover: `max_per_dimension²`.
pub fn max_split_workgroups(max_per_dimension: u32) -> u64 {
    u64::from(max_per_dimension) * u64::from(max_per_dimension)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The linear ids a shader derives from a split dispatch, skipping those at or past `n`.
    fn covered(n: u32, [x, y]: [u32; 2]) -> Vec<u32> {
        (0..y)
            .flat_map(|wy| (0..x).map(move |wx| wy * x + wx))
            .filter(|&id| id < n)
            .collect()
    }

    #[test]
    fn small_dispatches_stay_one_dimensional() {
        assert_eq!(split_workgroups(1, 65_535), Some([1, 1]));
        assert_eq!(split_workgroups(65_535, 65_535), Some([65_535, 1]));
        assert_eq!(split_workgroups(0, 65_535), Some([0, 1]));
    }

    #[test]
    fn large_dispatches_fold_into_two_dimensions() {
        assert_eq!(split_workgroups(65_536, 65_535), Some([65_535, 2]));
        assert_eq!(split_workgroups(200_000, 65_535), Some([65_535, 4]));
        // The most a 64-wide pass can need for u32::MAX items.
        let most = u32::MAX.div_ceil(64);
        let [x, y] = split_workgroups(most, 65_535).expect("fits");
        assert!(u64::from(x) * u64::from(y) >= u64::from(most) && y <= 65_535);
    }

    #[test]
    fn every_workgroup_is_covered_exactly_once_and_within_the_cap() {
        for max in 1..=9u32 {
            for n in 0..=max * max {
                let split = split_workgroups(n, max).expect("n <= max²");
                assert!(
                    split[0] <= max && split[1] <= max,
                    "n {n} max {max}: {split:?}"
                );
                assert_eq!(
                    covered(n, split),
                    (0..n).collect::<Vec<_>>(),
                    "n {n} max {max}"
                );
            }
            assert_eq!(split_workgroups(max * max + 1, max), None);
            assert_eq!(max_split_workgroups(max), u64::from(max * max));
        }
        assert_eq!(split_workgroups(1, 0), None);
    }
}
