//! CSV exports of statements (RFC 4180: CRLF line ends, fields with a comma, quote or line
//! break quoted, quotes doubled). A text field that a spreadsheet would run as a formula
//! (`=`, `+`, `-`, `@` first) is prefixed with `'`; numbers are written as numbers.

use souk_core::settlement::Line;
use souk_store::StatementRecord;

enum Cell<'a> {
    Text(&'a str),
    Number(String),
}

fn field(out: &mut String, cell: Cell<'_>) {
    match cell {
        Cell::Number(n) => out.push_str(&n),
        Cell::Text(t) => {
            let t = if t.starts_with(['=', '+', '-', '@']) {
                format!("'{t}")
            } else {
                t.to_owned()
            };
            if t.contains([',', '"', '\r', '\n']) {
                out.push('"');
                out.push_str(&t.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(&t);
            }
        }
    }
}

fn row(out: &mut String, cells: Vec<Cell<'_>>) {
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, c);
    }
    out.push_str("\r\n");
}

/// Lines first (one per order, refund, adjustment, rebate), then the totals, each as
/// `total,<name>,<minor units>`.
pub fn statement_csv(s: &StatementRecord, lines: &[Line]) -> String {
    use Cell::*;
    let mut out = String::new();
    row(
        &mut out,
        [
            "statement_id",
            "period",
            "currency",
            "kind",
            "source_id",
            "order_id",
            "product_id",
            "occurred_at",
            "carried",
            "amount_minor",
            "platform_fee",
            "rebate",
            "commission",
            "net",
        ]
        .into_iter()
        .map(Text)
        .collect(),
    );
    for l in lines {
        let at = l
            .occurred_at
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        row(
            &mut out,
            vec![
                Text(&s.id),
                Text(&s.period),
                Text(s.currency.as_str()),
                Text(l.kind.as_str()),
                Text(&l.source_id),
                Text(l.order_id.as_ref().map_or("", |o| o.as_str())),
                Text(l.product_id.as_deref().unwrap_or("")),
                Text(&at),
                Text(if l.carried { "true" } else { "false" }),
                Number(l.amount_minor.to_string()),
                Number(l.platform_fee.to_decimal()),
                Number(l.rebate.to_decimal()),
                Number(l.commission.to_decimal()),
                Number(l.net.to_decimal()),
            ],
        );
    }
    let t = &s.totals;
    for (name, v) in [
        ("gross_minor", t.gross_minor),
        ("refunds_minor", t.refunds_minor),
        ("adjustments_minor", t.adjustments_minor),
        ("platform_fee_minor", t.platform_fee_minor),
        ("rebate_minor", t.rebate_minor),
        ("commission_minor", t.commission_minor),
        ("carried_in_minor", t.carried_in_minor),
        ("net_minor", t.net_minor),
        ("payable_minor", t.payable_minor),
        ("carried_forward_minor", t.carried_forward_minor),
    ] {
        row(
            &mut out,
            vec![
                Text(&s.id),
                Text("total"),
                Text(name),
                Number(v.to_string()),
            ],
        );
    }
    out
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A reseller's performance: one row per order (cash amount, refunded, commission estimate at
/// the order's terms, rounded per order for display), then per-customer totals.
pub fn performance_csv(rows: &[super::reseller_statements::PerformanceView]) -> String {
    use Cell::*;
    let mut out = String::new();
    let head = [
        "order_id",
        "buyer_id",
        "product_id",
        "kind",
        "state",
        "paid_at",
        "currency",
        "amount_minor",
        "refunded_minor",
        "offer_id",
        "commission",
    ];
    row(&mut out, head.into_iter().map(Text).collect());
    for r in rows {
        let paid = rfc3339(r.paid_at);
        row(
            &mut out,
            vec![
                Text(r.order_id.as_str()),
                Text(r.buyer_id.as_str()),
                Text(&r.product_id),
                Text(&r.kind),
                Text(&r.state),
                Text(&paid),
                Text(r.currency.as_str()),
                Number(r.amount_minor.to_string()),
                Number(r.refunded_minor.to_string()),
                Text(r.offer_id.as_deref().unwrap_or("")),
                Number(r.commission.clone()),
            ],
        );
    }
    out
}

/// A reseller statement's lines, then its totals as `total,<name>,<minor units>`.
pub fn reseller_statement_csv(
    s: &souk_store::ResellerStatementRecord,
    lines: &[souk_store::ResellerLine],
) -> String {
    use Cell::*;
    let mut out = String::new();
    let head = [
        "statement_id",
        "period",
        "currency",
        "kind",
        "source_id",
        "order_id",
        "occurred_at",
        "amount_minor",
        "commission",
    ];
    row(&mut out, head.into_iter().map(Text).collect());
    for l in lines {
        let at = rfc3339(l.occurred_at);
        row(
            &mut out,
            vec![
                Text(&s.id),
                Text(&s.period),
                Text(s.currency.as_str()),
                Text(l.kind.as_str()),
                Text(&l.source_id),
                Text(&l.order_id),
                Text(&at),
                Number(l.amount_minor.to_string()),
                Number(l.commission.to_decimal()),
            ],
        );
    }
    let t = &s.totals;
    for (name, v) in [
        ("sales_minor", t.sales_minor),
        ("refunds_minor", t.refunds_minor),
        ("commission_minor", t.commission_minor),
        ("carried_in_minor", t.carried_in_minor),
        ("net_minor", t.net_minor),
        ("payable_minor", t.payable_minor),
        ("carried_forward_minor", t.carried_forward_minor),
    ] {
        row(
            &mut out,
            vec![
                Text(&s.id),
                Text("total"),
                Text(name),
                Number(v.to_string()),
            ],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        let mut out = String::new();
        row(
            &mut out,
            vec![
                Cell::Text("a,b"),
                Cell::Text("say \"hi\""),
                Cell::Text("=SUM(A1)"),
                Cell::Number("-5".into()),
            ],
        );
        assert_eq!(out, "\"a,b\",\"say \"\"hi\"\"\",'=SUM(A1),-5\r\n");
    }
}
