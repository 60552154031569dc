//! Login attempts per key (a username or a client address) in a sliding
//! window: at most `limit` attempts in `window`; the next is refused with the
//! number of seconds until the oldest attempt leaves the window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sliding-window limiter.
#[derive(Debug)]
pub struct RateLimiter {
    limit: usize,
    window: Duration,
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// At most `limit` attempts per key in `window`.
    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            limit: limit as usize,
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Records an attempt under every key of `keys` at `now`, or, when one
    /// of them is already at its limit, records nothing and returns the
    /// seconds to wait (at least 1).
    pub fn attempt(&self, keys: &[&str], now: Instant) -> Result<(), u64> {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        // Forget what left the window, so that the map does not grow forever.
        attempts.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= self.window)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        let wait = keys
            .iter()
            .filter_map(|key| attempts.get(*key))
            .filter(|times| times.len() >= self.limit)
            .filter_map(|times| times.front())
            .map(|oldest| self.window.saturating_sub(now.duration_since(*oldest)))
            .max();
        if let Some(wait) = wait {
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        for key in keys {
            attempts
                .entry((*key).to_string())
                .or_default()
                .push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_per_key_until_the_window_moves_on() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(limiter.attempt(&["user:a", "addr:1"], t0), Ok(()));
        assert_eq!(
            limiter.attempt(&["user:a", "addr:2"], t0 + Duration::from_secs(10)),
            Ok(())
        );
        // user:a is at its limit, whatever the address.
        assert_eq!(
            limiter.attempt(&["user:a", "addr:3"], t0 + Duration::from_secs(20)),
            Err(40)
        );
        // Other users from a fresh address are not affected.
        assert_eq!(
            limiter.attempt(&["user:b", "addr:3"], t0 + Duration::from_secs(20)),
            Ok(())
        );
        // The first attempt left the window.
        assert_eq!(
            limiter.attempt(&["user:a", "addr:4"], t0 + Duration::from_secs(61)),
            Ok(())
        );
    }
}
