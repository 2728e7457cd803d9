// `tutti bench gpu` (engine/render/bench_gpu/dispatch.rs): the smallest compute pass that still
// does something checkable, to measure what one dispatch costs. Each dispatch of one workgroup adds 1
// to `ticks[0]`, so after a run the counter equals the number of dispatches that ran.
// Loaded alone: it needs none of shaders/shared/.

@group(0) @binding(0) var<storage, read_write> ticks: array<atomic<u32>>;

@compute @workgroup_size(64)
fn tick(@builtin(local_invocation_index) lid: u32) {
    if lid == 0u {
        atomicAdd(&ticks[0], 1u);
    }
}
