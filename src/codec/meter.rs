//! Meters of the stages of a pipeline: bytes in and out, and busy time (time spent working,
//! not waiting on a neighbour's pipe), kept in atomics while the stages run and read once
//! they ended. They feed the reports (and the benchmark's cost table): the stage with the
//! most busy time is the one that sets the pace.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One stage's meter (shared with the thread that runs it).
#[derive(Debug)]
pub struct Meter {
    name: &'static str,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    busy_ns: AtomicU64,
    /// False for a stage whose busy time is not measured (the source).
    timed: bool,
}

/// What a stage did, in a report.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StageReport {
    pub name: &'static str,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Seconds spent working (None: not measured).
    pub busy_seconds: Option<f64>,
}

impl Meter {
    /// A meter of the stage `name`.
    pub fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Meter {
            name,
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            timed: true,
        })
    }

    /// A meter of bytes only.
    pub fn untimed(name: &'static str) -> Arc<Self> {
        Arc::new(Meter {
            timed: false,
            ..Arc::into_inner(Meter::new(name)).expect("new")
        })
    }

    /// Counts `n` bytes in.
    pub fn input(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts `n` bytes out.
    pub fn output(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts `d` as busy.
    pub fn busy(&self, d: Duration) {
        self.busy_ns.fetch_add(
            d.as_nanos().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    /// Runs `f`, counting its time as busy.
    pub fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        self.busy(t.elapsed());
        r
    }

    /// What it counted.
    pub fn report(&self) -> StageReport {
        StageReport {
            name: self.name,
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            busy_seconds: self
                .timed
                .then(|| self.busy_ns.load(Ordering::Relaxed) as f64 / 1e9),
        }
    }
}

/// The reports of `meters`, in order.
pub fn reports(meters: &[Arc<Meter>]) -> Vec<StageReport> {
    meters.iter().map(|m| m.report()).collect()
}

/// `zstd 3.1 s (410 MiB out), age 0.8 s, ...`: busy time per stage, for a text report.
pub fn summary(stages: &[StageReport]) -> String {
    stages
        .iter()
        .map(|s| match s.busy_seconds {
            Some(b) => format!("{} {b:.1} s", s.name),
            None => format!("{} {} MiB", s.name, s.bytes_out >> 20),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_counts_bytes_and_busy_time() {
        let m = Meter::new("zstd");
        m.input(10);
        m.output(4);
        m.time(|| std::thread::sleep(Duration::from_millis(20)));
        let r = m.report();
        assert_eq!((r.bytes_in, r.bytes_out), (10, 4));
        assert!(r.busy_seconds.unwrap() >= 0.019, "{r:?}");
        let u = Meter::untimed("source");
        u.output(3);
        assert_eq!(u.report().busy_seconds, None);
        assert_eq!(summary(&[r, u.report()]).split(", ").count(), 2);
    }
}
