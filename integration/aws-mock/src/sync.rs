//! Poison-tolerant locking: a responder that panicked while holding a lock must not take the
//! rest of the mock down with it.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering the data if a responder panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
