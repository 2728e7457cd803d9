//! [`GpuContext`]: one opened device, passed by reference to every pass.

use super::GpuError;
use std::sync::{Arc, Mutex};

/// One device on one adapter, with the error state the uncaptured-error handler records.
pub struct GpuContext {
    /// Adapter index in the discovery that opened it.
    pub index: usize,
    /// Human-readable adapter label (`#0 llvmpipe [vulkan]`).
    pub label: String,
    /// The adapter.
    pub adapter: wgpu::Adapter,
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Limits the device was opened with.
    pub limits: wgpu::Limits,
    /// First uncaptured error (validation, out of memory, internal) or device loss, if any.
    fatal: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Wrap an opened device and install an uncaptured-error handler and a device-lost callback
    /// that record (and log once) the first problem.
    pub fn new(
        index: usize,
        label: String,
        adapter: wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
    ) -> Self {
        let fatal: Arc<Mutex<Option<String>>> = Arc::default();
        let (f1, l1) = (fatal.clone(), label.clone());
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = f1.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                tracing::error!("{l1}: GPU error: {e}");
                *slot = Some(e.to_string());
            }
        }));
        let (f2, l2) = (fatal.clone(), label.clone());
        device.set_device_lost_callback(move |reason, message| {
            let mut slot = f2.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() && reason != wgpu::DeviceLostReason::Destroyed {
                tracing::error!("{l2}: device lost ({reason:?}): {message}");
                *slot = Some(format!("device lost ({reason:?}): {message}"));
            }
        });
        let limits = device.limits();
        Self {
            index,
            label,
            adapter,
            device,
            queue,
            limits,
            fatal,
        }
    }

    /// Adapter information.
    pub fn info(&self) -> wgpu::AdapterInfo {
        self.adapter.get_info()
    }

    /// Fail if an uncaptured error or a device loss has been recorded.
    pub fn check(&self) -> Result<(), GpuError> {
        match self.fatal.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(message) => Err(GpuError::Device {
                adapter: self.label.clone(),
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Block until all submitted work has finished.
    pub fn wait_idle(&self) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Device {
                adapter: self.label.clone(),
                message: e.to_string(),
            })?;
        self.check()
    }
}
