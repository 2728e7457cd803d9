//! GPU adapters and devices: discovery on every backend, selection (`--adapters`), the
//! [`GpuContext`] every pass receives by reference, dispatches split over two dimensions, texture
//! readback and timestamp timing.

mod adapters;
mod context;
mod dispatch;
mod readback;
mod timer;

pub(crate) use adapters::panic_text;
pub use adapters::{AdapterEntry, AdapterSpec, AdapterStatus, Discovery, NO_ADAPTER_HELP};
pub use context::GpuContext;
pub use dispatch::{max_split_workgroups, split_workgroups};
pub use readback::ReadbackError;
pub use timer::GpuTimer;

/// Errors from adapter discovery, selection and device work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GpuError {
    /// wgpu found no adapter at all.
    #[error("no GPU adapter found. {NO_ADAPTER_HELP}")]
    NoAdapters,
    /// Adapters exist but none can be used.
    #[error("no usable GPU adapter:\n{details}\n{NO_ADAPTER_HELP}")]
    NoUsableAdapters {
        /// One line per adapter with the reason it was skipped.
        details: String,
    },
    /// An `--adapters` value that is none of the accepted forms.
    #[error(
        "{text:?} is not `default`, `all`, a backend (vulkan, metal, dx12, gl) or a comma list of adapter indices"
    )]
    NotASpec {
        /// What was given.
        text: String,
    },
    /// `--adapters` matches nothing.
    #[error("--adapters {spec:?}: {message}")]
    BadSpec {
        /// What the user passed.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// An adapter named explicitly in `--adapters` cannot be used.
    #[error("adapter {index} ({name}) cannot be used: {reason}")]
    Unusable {
        /// Adapter index.
        index: usize,
        /// Adapter name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A wgpu validation, out-of-memory or internal error during work on a device.
    #[error("adapter {adapter}: {message}")]
    Device {
        /// Adapter label.
        adapter: String,
        /// The wgpu error text.
        message: String,
    },
}
pub use readback::{encode_texture_copy, padded_row_bytes, read_buffer, unpad_rows};
