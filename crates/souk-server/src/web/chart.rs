//! The sales dashboard's chart: an SVG drawn on the server (no script, no CDN). Bars are
//! revenue per day, the line is orders per day (its own scale, on the right).

use crate::usecase::sales::SalesReport;
use std::fmt::Write;

const W: i64 = 720;
const H: i64 = 240;
const LEFT: i64 = 64;
const RIGHT: i64 = 40;
const TOP: i64 = 16;
const BOTTOM: i64 = 32;

/// Escapes text put inside the SVG (dates and money are plain, but never trust that).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart as an `<svg>` element; `title` names it for screen readers (the page also shows
/// the same figures as a table).
pub fn sales_svg(r: &SalesReport, title: &str) -> String {
    let n = r.days.len().max(1) as i64;
    let max_rev = r
        .days
        .iter()
        .map(|d| d.revenue_minor)
        .max()
        .unwrap_or(0)
        .max(1);
    let max_orders = r.days.iter().map(|d| d.orders).max().unwrap_or(0).max(1) as i64;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / n;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg"><title id="chart-title">{}</title>"#,
        esc(title)
    );
    // Axes and the top figures of both scales.
    let top_rev = souk_core::money::Money::new(max_rev, r.currency).to_string();
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axis\"/>\
         <text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"{}\" class=\"label\">{max_orders}</text>",
        TOP + plot_h,
        LEFT + plot_w,
        TOP + plot_h,
        LEFT - 4,
        TOP + 10,
        esc(&top_rev),
        LEFT + plot_w + 4,
        TOP + 10,
    );
    let mut points = Vec::new();
    for (i, d) in r.days.iter().enumerate() {
        let i = i as i64;
        let x = LEFT + i * slot;
        let bar_h = d.revenue_minor.max(0) * plot_h / max_rev;
        let money = souk_core::money::Money::new(d.revenue_minor, r.currency).to_string();
        let _ = write!(
            svg,
            "<rect class=\"revenue\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{bar_h}\"><title>{}: {} · {}</title></rect>",
            x + 1,
            TOP + plot_h - bar_h,
            (slot - 2).max(1),
            d.date,
            esc(&money),
            d.orders
        );
        let y = TOP + plot_h - (d.orders as i64) * plot_h / max_orders;
        points.push(format!("{},{y}", x + slot / 2));
        // Every seventh day is labelled, so labels never overlap at phone width.
        if i % 7 == 0 {
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">{:02}-{:02}</text>",
                x + slot / 2,
                H - 10,
                u8::from(d.date.month()),
                d.date.day()
            );
        }
    }
    let _ = write!(
        svg,
        "<polyline class=\"orders\" fill=\"none\" points=\"{}\"/></svg>",
        points.join(" ")
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usecase::sales::DaySales;
    use souk_core::money::Currency;

    #[test]
    fn the_chart_has_one_bar_per_day_scaled_to_the_best_day() {
        let d = |day: u8, orders, revenue_minor| DaySales {
            date: time::Date::from_calendar_date(2026, time::Month::December, day).unwrap(),
            orders,
            revenue_minor,
        };
        let r = SalesReport {
            days: vec![d(1, 0, 0), d(2, 2, 5000), d(3, 1, 2500)],
            currency: Currency::CNY,
            zone: "+08:00".into(),
        };
        let svg = sales_svg(&r, "Sales <30 days>");
        assert_eq!(svg.matches("<rect class=\"revenue\"").count(), 3);
        assert!(svg.contains("Sales &lt;30 days&gt;"));
        // The best day's bar fills the plot height.
        assert!(svg.contains(&format!("height=\"{}\"", H - TOP - BOTTOM)));
        assert!(svg.contains("2026-12-02: "));
    }
}
