//! Maintenance windows: a batch starts only if it can finish before the
//! window closes, judged from the longest batch so far or, before the first,
//! from the lifecycle's bounds (drain + healthy).

use chrono::{DateTime, Local, NaiveTime, TimeZone};
use std::time::Duration;

/// `--window-end`: RFC 3339 (`2026-12-02T06:00:00+01:00`) or a local time
/// of day (`06:00`, today; tomorrow if that has passed).
pub fn parse_window_end(text: &str, now: DateTime<Local>) -> Result<DateTime<Local>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Local));
    }
    let time = NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .map_err(|_| {
            format!("--window-end '{text}': write a time of day (06:00) or RFC 3339 (2026-12-02T06:00:00Z)")
        })?;
    let today = now.date_naive().and_time(time);
    let mut end = Local
        .from_local_datetime(&today)
        .earliest()
        .ok_or_else(|| format!("--window-end '{text}' does not exist today (a DST gap?)"))?;
    if end <= now {
        end += chrono::Duration::days(1);
    }
    Ok(end)
}

/// Why the next batch must not start, if it must not.
pub fn refuse_batch(left: Duration, done: &[Duration], first_estimate: Duration) -> Option<String> {
    let (need, basis) = match done.iter().max() {
        Some(longest) => (
            *longest,
            format!("the longest batch so far took {}s", longest.as_secs()),
        ),
        None => (
            first_estimate,
            format!(
                "the drain and health bounds allow {}s",
                first_estimate.as_secs()
            ),
        ),
    };
    (need > left).then(|| {
        format!(
            "the maintenance window closes in {}s and {basis}",
            left.as_secs()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn batches_start_only_if_they_can_finish() {
        assert!(refuse_batch(secs(100), &[], secs(90)).is_none());
        let why = refuse_batch(secs(60), &[], secs(90)).unwrap();
        assert!(
            why.contains("closes in 60s") && why.contains("bounds allow 90s"),
            "{why}"
        );
        // Once batches ran, their longest duration is the estimate.
        assert!(refuse_batch(secs(60), &[secs(20), secs(35)], secs(900)).is_none());
        let why = refuse_batch(secs(30), &[secs(20), secs(35)], secs(900)).unwrap();
        assert!(why.contains("longest batch so far took 35s"), "{why}");
    }

    #[test]
    fn window_end_forms() {
        let now = Local.with_ymd_and_hms(2026, 12, 2, 5, 0, 0).unwrap();
        let end = parse_window_end("06:30", now).unwrap();
        assert_eq!(end - now, chrono::Duration::minutes(90));
        let end = parse_window_end("04:00", now).unwrap();
        assert_eq!(
            end - now,
            chrono::Duration::hours(23),
            "a passed time means tomorrow"
        );
        assert!(parse_window_end("2026-12-02T06:00:00Z", now).is_ok());
        assert!(
            parse_window_end("soon", now)
                .unwrap_err()
                .contains("time of day")
        );
    }
}
