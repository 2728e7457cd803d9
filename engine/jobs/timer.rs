//! One timer thread per executor: delayed retries (so a waiting retry never occupies a pool
//! worker) and job timeouts. It only moves work back to the queues or raises cancellation
//! flags; it never runs job bodies.

use crossbeam_channel::{Receiver, Sender, select};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

type Action = Box<dyn FnOnce() + Send>;

struct Entry {
    at: Instant,
    seq: u64,
    action: Action,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Handle to the timer thread; dropping it stops the thread.
pub(crate) struct Timer {
    tx: Sender<(Instant, Action)>,
}

impl Timer {
    pub fn start() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded::<(Instant, Action)>();
        std::thread::Builder::new()
            .name("tutti-jobs-timer".into())
            .spawn(move || timer_loop(rx))
            .expect("spawning the job timer thread");
        Self { tx }
    }

    /// Run `action` on the timer thread at `at` (or soon after).
    pub fn schedule(&self, at: Instant, action: impl FnOnce() + Send + 'static) {
        let _ = self.tx.send((at, Box::new(action)));
    }
}

fn timer_loop(rx: Receiver<(Instant, Action)>) {
    let mut heap: BinaryHeap<Reverse<Entry>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            if let Some(Reverse(e)) = heap.pop() {
                // Actions only requeue work or raise flags; should one panic all the same, the
                // timer (every later retry and timeout) must survive it.
                if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(e.action))
                {
                    tracing::error!(
                        "a job timer action panicked: {}",
                        super::panic_message(&*panic)
                    );
                    super::drop_payload(panic);
                }
            }
        }
        let timeout = heap
            .peek()
            .map(|Reverse(e)| e.at.saturating_duration_since(Instant::now()));
        let received = match timeout {
            Some(t) => select! {
                recv(rx) -> m => m.ok(),
                default(t) => continue,
            },
            None => rx.recv().ok(),
        };
        match received {
            Some((at, action)) => {
                seq += 1;
                heap.push(Reverse(Entry { at, seq, action }));
            }
            None => return, // executor dropped
        }
    }
}
