//! A batcher: groups small items and hands them on in batches, when a batch reaches
//! `max_items` or when its oldest item has waited `max_wait`, whichever comes first.
//!
//! A single collector thread owns the open batch (it only gathers; the handler may submit the
//! batch to an [`super::Executor`]). Dropping or [`Batcher::finish`]ing flushes what is left.

use crossbeam_channel::{RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Groups items by count or by time.
pub struct Batcher<T: Send + 'static> {
    tx: Option<Sender<T>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Batcher<T> {
    /// Start a batcher calling `handler` with each batch (never empty).
    pub fn new(
        max_items: usize,
        max_wait: Duration,
        mut handler: impl FnMut(Vec<T>) + Send + 'static,
    ) -> Self {
        let max_items = max_items.max(1);
        let (tx, rx) = crossbeam_channel::unbounded::<T>();
        let thread = std::thread::Builder::new()
            .name("tutti-batcher".into())
            .spawn(move || {
                let mut batch: Vec<T> = Vec::with_capacity(max_items);
                let mut oldest = Instant::now();
                loop {
                    // A `max_wait` too large to add to the current time never expires.
                    let deadline = oldest.checked_add(max_wait).filter(|_| !batch.is_empty());
                    let got = match deadline {
                        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                        Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                    };
                    match got {
                        Ok(item) => {
                            if batch.is_empty() {
                                oldest = Instant::now();
                            }
                            batch.push(item);
                            if batch.len() >= max_items {
                                handler(std::mem::replace(
                                    &mut batch,
                                    Vec::with_capacity(max_items),
                                ));
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            handler(std::mem::replace(&mut batch, Vec::with_capacity(max_items)));
                        }
                        Err(RecvTimeoutError::Disconnected) => {
                            if !batch.is_empty() {
                                handler(batch);
                            }
                            return;
                        }
                    }
                }
            })
            .expect("spawning the batcher thread");
        Self {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// Add an item.
    pub fn push(&self, item: T) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(item);
        }
    }

    /// Flush the open batch and stop.
    pub fn finish(mut self) {
        self.close();
    }

    fn close(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl<T: Send + 'static> Drop for Batcher<T> {
    fn drop(&mut self) {
        self.close();
    }
}
