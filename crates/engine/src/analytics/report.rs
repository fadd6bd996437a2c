//! The analytics report of a window of days: searches per day, zero-result rate, click-through rate and
//! mean reciprocal rank of opened results, p50/p99 latency per index kind, reports per 1,000 views by
//! folder and by label, and the median time from an image's first report to its resolution.
//!
//! Definitions (all over the searches answered in the window):
//! - `zero_result_rate`: searches with no result / searches;
//! - `click_through_rate`: searches from whose answer the page opened at least one result / searches;
//! - `mrr`: the mean over searches of 1 / the best (smallest) position opened from it, 0 for a search
//!   with no open (pins are counted apart, not as opens);
//! - latency: from the request's arrival to the answer, nearest-rank percentiles per index kind;
//! - reports per 1,000 views: the reports of images first reported in the window, per 1,000 views
//!   (opens and views) in the window of images of that folder or label;
//! - time to resolution: over images resolved in the window, from first report to resolution; the
//!   median (of an even count, the mean of the middle two).
//!
//! The reports themselves are the reports store's: it hands them over as [`ReportedImage`]s.

use super::DAY_MS;
use serde::Serialize;
use std::collections::BTreeMap;

/// The days a report covers: whole UTC days, the last being today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub days: u32,
    /// Start of the first day, ms since the Unix epoch.
    pub from_ms: i64,
    /// End of the last day (exclusive).
    pub to_ms: i64,
}

impl Window {
    /// The last `days` UTC days up to the day of `now_ms` (at least one).
    pub fn last_days(days: u32, now_ms: i64) -> Self {
        let days = days.max(1);
        let today = now_ms.div_euclid(DAY_MS);
        Self {
            days,
            from_ms: (today - i64::from(days) + 1) * DAY_MS,
            to_ms: (today + 1) * DAY_MS,
        }
    }

    fn contains(&self, ms: i64) -> bool {
        (self.from_ms..self.to_ms).contains(&ms)
    }
}

/// An image the reports store holds reports of: the input of the report figures that come from reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedImage {
    /// The image's id, as the API writes it.
    pub image: String,
    /// Its folder (`""` at the top).
    pub folder: String,
    /// The labels it carries.
    pub labels: Vec<String>,
    /// Reports received.
    pub reports: u64,
    /// The first report, ms since the Unix epoch.
    pub first_reported_ms: i64,
    /// When its case was resolved (blocked or dismissed), if it was.
    pub resolved_ms: Option<i64>,
}

/// The report of a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyticsReport {
    /// Days covered (whole UTC days, the last being today).
    pub days: u32,
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
    /// Searches answered.
    pub searches: u64,
    /// Searches that found nothing.
    pub zero_result_searches: u64,
    pub zero_result_rate: f64,
    /// Searches from whose answer at least one result was opened.
    pub searches_with_open: u64,
    pub click_through_rate: f64,
    /// Mean reciprocal rank of the best opened result (0 for a search with none).
    pub mrr: f64,
    /// Results opened, images pinned, images viewed (opens included).
    pub opens: u64,
    pub pins: u64,
    pub views: u64,
    /// Every day of the window, oldest first.
    pub per_day: Vec<DayFigures>,
    /// Searches by kind of query.
    pub query_kinds: Vec<Count>,
    /// Searches by filter key used.
    pub filter_keys: Vec<Count>,
    /// Latency per index kind.
    pub latency: Vec<IndexLatency>,
    /// Reports per 1,000 views.
    pub reports_per_1000_views: ReportRates,
    /// Reported images and the time to resolve them.
    pub resolution: Resolution,
}

/// One day's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayFigures {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub searches: u64,
    pub zero_results: u64,
    /// Searches with at least one result opened.
    pub with_open: u64,
}

/// A count by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// Latency of one index kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexLatency {
    pub index: String,
    pub searches: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Reports per 1,000 views by folder and by label.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ReportRates {
    pub by_folder: Vec<GroupRate>,
    pub by_label: Vec<GroupRate>,
}

/// The reports and views of a folder or a label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRate {
    /// The folder (`""` at the top) or the label.
    pub name: String,
    pub views: u64,
    pub reports: u64,
    /// `reports * 1000 / views`; `null` without views.
    pub per_1000_views: Option<f64>,
}

/// Time from first report to resolution.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Resolution {
    /// Images first reported in the window.
    pub reported: u64,
    /// Images resolved in the window.
    pub resolved: u64,
    /// Median hours from first report to resolution over those resolved; `null` when none was.
    pub median_hours: Option<f64>,
}

/// The 1-based nearest rank of percentile `p` among `n` sorted values (at least 1 when `n > 0`).
pub fn nearest_rank(n: usize, p: f64) -> usize {
    ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n.max(1))
}

/// What the store counted, for [`assemble`].
pub(crate) struct Counts<'a> {
    pub window: Window,
    pub searches: u64,
    pub zero_results: u64,
    pub opened: u64,
    pub reciprocal_rank_sum: f64,
    /// (day, searches, zero results, with an open).
    pub per_day: Vec<(String, i64, i64, i64)>,
    pub kinds: Vec<(String, u64)>,
    pub filter_keys: Vec<(String, u64)>,
    pub latency: Vec<IndexLatency>,
    pub opens: u64,
    pub pins: u64,
    pub views: u64,
    pub views_by_folder: Vec<(String, u64)>,
    pub views_by_label: Vec<(String, u64)>,
    pub reported: &'a [ReportedImage],
}

fn day_of(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default()
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

pub(crate) fn assemble(c: Counts<'_>) -> AnalyticsReport {
    let w = c.window;
    let mut days: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for d in 0..i64::from(w.days) {
        days.insert(day_of(w.from_ms + d * DAY_MS), (0, 0, 0));
    }
    for (day, n, zero, open) in c.per_day {
        days.insert(day, (n as u64, zero as u64, open as u64));
    }
    let counts = |v: Vec<(String, u64)>| {
        v.into_iter()
            .map(|(name, count)| Count { name, count })
            .collect()
    };
    AnalyticsReport {
        days: w.days,
        from: day_of(w.from_ms),
        to: day_of(w.to_ms - 1),
        searches: c.searches,
        zero_result_searches: c.zero_results,
        zero_result_rate: ratio(c.zero_results, c.searches),
        searches_with_open: c.opened,
        click_through_rate: ratio(c.opened, c.searches),
        mrr: if c.searches == 0 {
            0.0
        } else {
            c.reciprocal_rank_sum / c.searches as f64
        },
        opens: c.opens,
        pins: c.pins,
        views: c.views,
        per_day: days
            .into_iter()
            .map(|(day, (searches, zero_results, with_open))| DayFigures {
                day,
                searches,
                zero_results,
                with_open,
            })
            .collect(),
        query_kinds: counts(c.kinds),
        filter_keys: counts(c.filter_keys),
        latency: c.latency,
        reports_per_1000_views: report_rates(&c.views_by_folder, &c.views_by_label, c.reported, w),
        resolution: resolution(c.reported, w),
    }
}

/// Reports per 1,000 views by folder and by label: the reports of images first reported in `window`
/// against the views counted in it. Groups with views or reports, most reported per view first.
pub fn report_rates(
    views_by_folder: &[(String, u64)],
    views_by_label: &[(String, u64)],
    reported: &[ReportedImage],
    window: Window,
) -> ReportRates {
    let in_window: Vec<&ReportedImage> = reported
        .iter()
        .filter(|r| window.contains(r.first_reported_ms))
        .collect();
    let rates = |views: &[(String, u64)], groups: &dyn Fn(&ReportedImage) -> Vec<String>| {
        let mut table: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (name, n) in views {
            table.entry(name.clone()).or_default().0 += n;
        }
        for r in &in_window {
            for g in groups(r) {
                table.entry(g).or_default().1 += r.reports;
            }
        }
        let mut out: Vec<GroupRate> = table
            .into_iter()
            .map(|(name, (views, reports))| GroupRate {
                name,
                views,
                reports,
                per_1000_views: (views > 0).then(|| reports as f64 * 1000.0 / views as f64),
            })
            .collect();
        out.sort_by(|a, b| {
            let key = |g: &GroupRate| g.per_1000_views.unwrap_or(f64::INFINITY);
            key(b).total_cmp(&key(a)).then_with(|| a.name.cmp(&b.name))
        });
        out
    };
    ReportRates {
        by_folder: rates(views_by_folder, &|r| vec![r.folder.clone()]),
        by_label: rates(views_by_label, &|r| r.labels.clone()),
    }
}

/// The median time from first report to resolution over the images resolved in `window`.
pub fn resolution(reported: &[ReportedImage], window: Window) -> Resolution {
    let mut hours: Vec<f64> = reported
        .iter()
        .filter_map(|r| {
            r.resolved_ms
                .filter(|&at| window.contains(at))
                .map(|at| (r, at))
        })
        .map(|(r, at)| (at - r.first_reported_ms).max(0) as f64 / 3_600_000.0)
        .collect();
    hours.sort_by(f64::total_cmp);
    let median = match hours.len() {
        0 => None,
        n if n % 2 == 1 => Some(hours[n / 2]),
        n => Some((hours[n / 2 - 1] + hours[n / 2]) / 2.0),
    };
    Resolution {
        reported: reported
            .iter()
            .filter(|r| window.contains(r.first_reported_ms))
            .count() as u64,
        resolved: hours.len() as u64,
        median_hours: median,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn image(
        folder: &str,
        labels: &[&str],
        reports: u64,
        first: i64,
        resolved: Option<i64>,
    ) -> ReportedImage {
        ReportedImage {
            image: "1".into(),
            folder: folder.into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            reports,
            first_reported_ms: first,
            resolved_ms: resolved,
        }
    }

    #[test]
    fn windows_are_whole_utc_days_ending_today() {
        let now = 20_000 * DAY_MS + 5 * HOUR;
        let w = Window::last_days(3, now);
        assert_eq!(w.from_ms, 19_998 * DAY_MS);
        assert_eq!(w.to_ms, 20_001 * DAY_MS);
        assert_eq!(Window::last_days(0, now).days, 1);
    }

    #[test]
    fn median_time_to_resolution_over_the_images_resolved_in_the_window() {
        let now = 20_000 * DAY_MS + 12 * HOUR;
        let w = Window::last_days(7, now);
        let t = 19_999 * DAY_MS;
        let reported = [
            image("a", &[], 1, t, Some(t + 2 * HOUR)),
            image("a", &[], 1, t, Some(t + 6 * HOUR)),
            image("b", &[], 1, t, Some(t + 3 * HOUR)),
            image("b", &[], 1, t, Some(t + 10 * HOUR)),
            image("b", &[], 1, t, None),
            // Resolved before the window: not counted.
            image("b", &[], 1, t - 30 * DAY_MS, Some(t - 29 * DAY_MS)),
        ];
        let r = resolution(&reported, w);
        assert_eq!(r.resolved, 4);
        assert_eq!(r.reported, 5);
        assert_eq!(r.median_hours, Some(4.5));
        let odd = resolution(&reported[..3], w);
        assert_eq!(odd.median_hours, Some(3.0));
        assert_eq!(resolution(&[], w).median_hours, None);
    }

    #[test]
    fn reports_per_thousand_views_by_folder_and_label() {
        let now = 20_000 * DAY_MS;
        let w = Window::last_days(1, now);
        let reported = [
            image("cats", &["nsfw"], 3, now, None),
            image("cats", &[], 1, now, None),
            image("dogs", &["nsfw", "spam"], 2, now, None),
            image("dogs", &[], 5, now - 10 * DAY_MS, None),
        ];
        let views_f = [
            ("cats".to_string(), 2000),
            ("dogs".to_string(), 500),
            ("birds".to_string(), 10),
        ];
        let views_l = [("nsfw".to_string(), 100)];
        let r = report_rates(&views_f, &views_l, &reported, w);
        let get = |v: &[GroupRate], n: &str| v.iter().find(|g| g.name == n).cloned().unwrap();
        assert_eq!(get(&r.by_folder, "cats").per_1000_views, Some(2.0));
        assert_eq!(get(&r.by_folder, "dogs").per_1000_views, Some(4.0));
        assert_eq!(get(&r.by_folder, "birds").per_1000_views, Some(0.0));
        assert_eq!(get(&r.by_label, "nsfw").per_1000_views, Some(50.0));
        assert_eq!(get(&r.by_label, "spam").per_1000_views, None);
        assert_eq!(get(&r.by_label, "spam").reports, 2);
        // Without views first, then most reported per view.
        assert_eq!(r.by_folder[0].name, "dogs");
        assert_eq!(r.by_label[0].name, "spam");
    }

    #[test]
    fn nearest_ranks() {
        assert_eq!(nearest_rank(10, 50.0), 5);
        assert_eq!(nearest_rank(10, 99.0), 10);
        assert_eq!(nearest_rank(1, 50.0), 1);
        assert_eq!(nearest_rank(200, 99.0), 198);
    }
}
