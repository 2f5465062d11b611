//! `--rate-limit`: at most so many bytes per second read from the backup tool or the store.
//! The reader waits before taking more than the rate allows since it started, so the average
//! never exceeds it; the pipes' backpressure slows the backup tool's disk reads in turn (as
//! xtrabackup's `--throttle` does), and a restore's downloads.

use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::Result;

/// A byte budget that grows by `rate` bytes a second, of which at most [`BURST`]'s worth is
/// saved up: after a stall (the store slow, the backup tool waiting on a lock) the reader does
/// not catch up at full disk speed.
#[derive(Debug)]
pub struct RateLimit {
    rate: u64,
    /// When the bytes taken so far are paid for.
    due: Option<Instant>,
}

/// How much unused budget is kept (in time at the rate).
pub const BURST: Duration = Duration::from_millis(250);

impl RateLimit {
    /// A limit of `rate` bytes per second; None means no limit.
    pub fn new(rate: Option<u64>) -> Option<Self> {
        rate.filter(|&r| r > 0)
            .map(|rate| RateLimit { rate, due: None })
    }

    /// Accounts for `n` bytes just read, then sleeps until they are paid for.
    pub async fn take(&mut self, n: usize) {
        let now = Instant::now();
        let floor = now.checked_sub(BURST).unwrap_or(now);
        let from = self.due.map_or(now, |d| d.max(floor));
        let due = from + Duration::from_secs_f64(n as f64 / self.rate as f64);
        self.due = Some(due);
        if due > now {
            tokio::time::sleep(due - now).await;
        }
    }
}

/// `input`, read no faster than `rate` bytes per second (unchanged when None).
pub fn limited(
    input: BoxStream<'static, Result<Bytes>>,
    rate: Option<u64>,
) -> BoxStream<'static, Result<Bytes>> {
    let Some(limit) = RateLimit::new(rate) else {
        return input;
    };
    futures::stream::unfold((input, limit), |(mut input, mut limit)| async move {
        let item = input.next().await?;
        if let Ok(b) = &item {
            limit.take(b.len()).await;
        }
        Some((item, (input, limit)))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_average_stays_at_the_rate() {
        let chunks: Vec<Result<Bytes>> = (0..40)
            .map(|_| Ok(Bytes::from(vec![0u8; 1 << 20])))
            .collect();
        let start = tokio::time::Instant::now();
        let mut s = limited(futures::stream::iter(chunks).boxed(), Some(10 << 20));
        let mut n = 0;
        while let Some(c) = s.next().await {
            n += c.unwrap().len();
        }
        assert_eq!(n, 40 << 20);
        let secs = start.elapsed().as_secs_f64();
        assert!(
            (3.9..=4.1).contains(&secs),
            "40 MiB at 10 MiB/s took {secs} s"
        );
    }
}
