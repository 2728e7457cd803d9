//! [`GpuContext`]: one opened device, passed by reference to every pass.

use super::GpuError;
use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};

/// wgpu's GL backend gives every device of one adapter the adapter's single GL context, and
/// two such devices used from different threads corrupt each other's state (seen on llvmpipe:
/// frames rendered with another device's data). So at most one device per GL adapter is open at
/// a time in a process: opening a second one waits until the first is dropped.
static EXCLUSIVE: (Mutex<Option<HashSet<String>>>, Condvar) = (Mutex::new(None), Condvar::new());

/// Held by a [`GpuContext`] on an adapter that allows one device at a time.
pub(crate) struct ExclusiveGuard {
    key: String,
}

impl ExclusiveGuard {
    /// Wait until no other device is open on the adapter identified by `key`, then claim it.
    pub(crate) fn acquire(key: String) -> Self {
        let (lock, cv) = &EXCLUSIVE;
        let mut held = lock.lock().unwrap_or_else(|e| e.into_inner());
        while held.get_or_insert_with(HashSet::new).contains(&key) {
            held = cv.wait(held).unwrap_or_else(|e| e.into_inner());
        }
        held.get_or_insert_with(HashSet::new).insert(key.clone());
        Self { key }
    }
}

impl Drop for ExclusiveGuard {
    fn drop(&mut self) {
        let (lock, cv) = &EXCLUSIVE;
        if let Some(set) = lock.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            set.remove(&self.key);
        }
        cv.notify_all();
    }
}

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
    /// Limits the device was opened with. The renderer checks every scene against these before
    /// creating anything (`render::limits`). Lowering a field makes tutti treat the device as
    /// smaller than it is (tests do); never raise one above the device's.
    pub limits: wgpu::Limits,
    /// First uncaptured error (validation, out of memory, internal) or device loss, if any.
    fatal: Arc<Mutex<Option<String>>>,
    /// Declared last so it is released after the device is dropped.
    _exclusive: Option<ExclusiveGuard>,
}

impl GpuContext {
    /// Wrap a device the host application opened itself (embedding tutti on the host's own
    /// wgpu device). Installs an uncaptured-error handler and a device-lost callback that record
    /// (and log once) the first problem; [`Self::check`] reports it.
    pub fn new(
        index: usize,
        label: String,
        adapter: wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
    ) -> Self {
        Self::with_guard(index, label, adapter, device, queue, None)
    }

    /// Wrap a host's device without taking over its error reporting: unlike [`Self::new`], no
    /// uncaptured-error handler or device-lost callback is installed, so the host's own stay in
    /// place. [`Self::check`] then reports only what [`Self::mark_lost`] records; a host whose
    /// handler sees an error on this device should call it. `device`, `queue` and `adapter` are
    /// cheap clones of the host's handles.
    pub fn from_host(
        label: String,
        adapter: &wgpu::Adapter,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Self {
        Self {
            index: 0,
            label,
            adapter: adapter.clone(),
            limits: device.limits(),
            device: device.clone(),
            queue: queue.clone(),
            fatal: Arc::default(),
            _exclusive: None,
        }
    }

    pub(crate) fn with_guard(
        index: usize,
        label: String,
        adapter: wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
        exclusive: Option<ExclusiveGuard>,
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
            _exclusive: exclusive,
        }
    }

    /// Adapter information.
    pub fn info(&self) -> wgpu::AdapterInfo {
        self.adapter.get_info()
    }

    /// Fail if an uncaptured error or a device loss has been recorded.
    pub fn check(&self) -> Result<(), GpuError> {
        match self
            .fatal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(message) => Err(GpuError::Device {
                adapter: self.label.clone(),
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Block until a submission has finished (and its map callbacks have run).
    pub fn wait_for(&self, index: wgpu::SubmissionIndex) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map_err(|e| GpuError::Device {
                adapter: self.label.clone(),
                message: e.to_string(),
            })?;
        self.check()
    }

    /// Record a fatal problem as if the device had been lost (used by fault injection:
    /// `TUTTI_FAULT_DEVICE_LOST`). Every later [`Self::check`] fails with `message`.
    pub fn mark_lost(&self, message: &str) {
        let mut slot = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert_with(|| message.to_string());
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
