//! The analytics charts: grouping the API's per-day-and-tool rows, and drawing them as inline SVG
//! markup by hand (no chart library). Pure functions, tested on the host; the page inserts the
//! markup as is, and the stylesheet colours the series by class (`s-free`, `s-paid`, `s-req`,
//! `s-err`).

use crate::wire::DailyCalls;
use api_types::html::escape;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One day's calls, summed over tools.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayStack {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Free calls.
    pub free: u64,
    /// Paid calls.
    pub paid: u64,
    /// Payment requests.
    pub payment_required: u64,
    /// Failures.
    pub errors: u64,
}

impl DayStack {
    /// Every call of the day.
    pub fn total(&self) -> u64 {
        self.free + self.paid + self.payment_required + self.errors
    }
}

/// The series of the stacked chart, bottom to top: CSS class and label.
pub const SERIES: [(&str, &str); 4] = [
    ("s-free", "Free"),
    ("s-paid", "Paid"),
    ("s-req", "Payment required"),
    ("s-err", "Errors"),
];

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (the civil-from-days algorithm).
pub fn day_number(date: &str) -> Option<i64> {
    let mut parts = date.get(..10)?.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The `YYYY-MM-DD` date of a day number.
pub fn date_of(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The `days` dates ending with `today`, oldest first (empty if `today` is not a date).
pub fn date_range(today: &str, days: u32) -> Vec<String> {
    let Some(end) = day_number(today) else {
        return Vec::new();
    };
    (0..i64::from(days))
        .rev()
        .map(|back| date_of(end - back))
        .collect()
}

/// Sums the rows per day over `dates` (days without rows are zero; rows outside are dropped).
pub fn per_day(daily: &[DailyCalls], dates: &[String]) -> Vec<DayStack> {
    let mut by_date: BTreeMap<&str, DayStack> = dates
        .iter()
        .map(|d| {
            (
                d.as_str(),
                DayStack {
                    date: d.clone(),
                    ..DayStack::default()
                },
            )
        })
        .collect();
    for row in daily {
        if let Some(day) = by_date.get_mut(row.date.get(..10).unwrap_or(&row.date)) {
            day.free += row.free;
            day.paid += row.paid;
            day.payment_required += row.payment_required;
            day.errors += row.errors;
        }
    }
    by_date.into_values().collect()
}

/// Calls per tool over the whole period, most called first (ties by name).
pub fn per_tool(daily: &[DailyCalls]) -> Vec<(String, u64)> {
    let mut by_tool: BTreeMap<&str, u64> = BTreeMap::new();
    for row in daily {
        *by_tool.entry(&row.tool).or_default() +=
            row.free + row.paid + row.payment_required + row.errors;
    }
    let mut tools: Vec<(String, u64)> = by_tool
        .into_iter()
        .map(|(tool, calls)| (tool.to_string(), calls))
        .collect();
    tools.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    tools
}

/// A round axis maximum at or above `max`: 1, 2 or 5 times a power of ten (at least 1).
pub fn nice_max(max: u64) -> u64 {
    let mut step = 1_u64;
    loop {
        for factor in [1, 2, 5] {
            let candidate = step.saturating_mul(factor);
            if candidate >= max {
                return candidate;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// How many steps the axis from 0 to `max` (a [`nice_max`]) is cut into, so that every tick is
/// a whole number and no two ticks read the same: 4 or 5 when they divide it, else fewer.
pub fn tick_steps(max: u64) -> u64 {
    [4, 5, 2]
        .into_iter()
        .find(|steps| max.is_multiple_of(*steps))
        .unwrap_or(1)
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

/// The stacked bar chart of calls per day, as an `<svg>` element.
pub fn stacked_bars_svg(days: &[DayStack]) -> String {
    let max = nice_max(days.iter().map(DayStack::total).max().unwrap_or(0));
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / days.len().max(1) as f64;
    let bar = (slot * 0.72).max(1.0);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"Calls per day\" preserveAspectRatio=\"none\">"
    );
    let steps = tick_steps(max);
    for tick in 0..=steps {
        let value = max * tick / steps;
        let y = TOP + plot_h - plot_h * tick as f64 / steps as f64;
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{value}</text>",
            WIDTH - 8.0,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let label_every = (days.len() / 6).max(1);
    for (i, day) in days.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = TOP + plot_h;
        let values = [day.free, day.paid, day.payment_required, day.errors];
        for ((class, label), value) in SERIES.iter().zip(values) {
            if value == 0 {
                continue;
            }
            let h = plot_h * value as f64 / max as f64;
            y -= h;
            let _ = write!(
                svg,
                "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" \
                 height=\"{h:.1}\"><title>{} {label}: {value}</title></rect>",
                escape(&day.date)
            );
        }
        if i % label_every == 0 || i + 1 == days.len() {
            let _ = write!(
                svg,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                HEIGHT - 6.0,
                escape(day.date.get(5..).unwrap_or(&day.date))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A horizontal bar chart (label, value), as an `<svg>` element.
pub fn horizontal_bars_svg(items: &[(String, u64)], class: &str) -> String {
    let row = 26.0;
    let label_w = 210.0;
    let height = (row * items.len() as f64).max(row);
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let plot_w = WIDTH - label_w - 60.0;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"Calls per tool\">"
    );
    for (i, (label, value)) in items.iter().enumerate() {
        let y = row * i as f64;
        let w = (plot_w * *value as f64 / max as f64).max(if *value > 0 { 2.0 } else { 0.0 });
        let shown: String = if label.chars().count() > 30 {
            label.chars().take(29).chain(['…']).collect()
        } else {
            label.clone()
        };
        let _ = write!(
            svg,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect class=\"{class}\" x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"3\">\
             <title>{}: {value}</title></rect>\
             <text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{value}</text>",
            label_w - 8.0,
            y + 17.0,
            escape(&shown),
            y + 5.0,
            row - 10.0,
            escape(label),
            label_w + w + 6.0,
            y + 17.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(date: &str, tool: &str, free: u64, paid: u64) -> DailyCalls {
        DailyCalls {
            date: date.into(),
            tool: tool.into(),
            free,
            paid,
            payment_required: 1,
            errors: 0,
        }
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(date_of(0), "1970-01-01");
        for day in [-1000, 0, 59, 365, 11_016, 20_000, 20_784] {
            assert_eq!(day_number(&date_of(day)), Some(day));
        }
        assert_eq!(
            date_range("2024-03-01", 3),
            ["2024-02-28", "2024-02-29", "2024-03-01"]
        );
        assert!(date_range("nope", 7).is_empty());
        assert_eq!(date_range("2026-11-27", 90).len(), 90);
    }

    #[test]
    fn rows_group_per_day_and_tool() {
        let rows = [
            row("2026-11-26", "a", 1, 0),
            row("2026-11-27", "a", 2, 1),
            row("2026-11-27", "b", 0, 5),
            row("2026-10-01", "a", 9, 9),
        ];
        let dates = date_range("2026-11-27", 3);
        let days = per_day(&rows, &dates);
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].total(), 0);
        assert_eq!(days[1].free, 1);
        assert_eq!(days[2].paid, 6);
        assert_eq!(days[2].total(), 10);
        assert_eq!(
            per_tool(&rows),
            [("a".to_string(), 25), ("b".to_string(), 6)]
        );
    }

    #[test]
    fn axes_round_up() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(3), 5);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(200), 200);
        assert_eq!(nice_max(201), 500);
    }

    #[test]
    fn ticks_are_whole_and_distinct() {
        for max in [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] {
            let steps = tick_steps(max);
            assert!(max.is_multiple_of(steps), "{max}");
            assert!(max / steps >= 1, "{max}");
        }
        assert_eq!(tick_steps(1), 1);
        assert_eq!(tick_steps(2), 2);
        assert_eq!(tick_steps(5), 5);
        assert_eq!(tick_steps(20), 4);
    }

    #[test]
    fn svg_is_escaped_and_has_one_rect_per_nonzero_value() {
        let days = per_day(
            &[row("2026-11-27", "<b>", 2, 0)],
            &date_range("2026-11-27", 7),
        );
        let svg = stacked_bars_svg(&days);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 2);
        let bars = horizontal_bars_svg(&[("<b>".into(), 3)], "s-free");
        assert!(bars.contains("&lt;b&gt;") && !bars.contains("<b>"));
    }
}
