//! Storefront pages deep enough that the search's probe (a bounded walk along the sort
//! order, `souk-store/src/search.rs`) answers them, checked against the order the full query
//! defines: price ascending and descending with ties broken newest first, newest, a word with
//! a filter, and the last page where the probe falls back to the full query.

use crate::backend_test;
use crate::console::{listed, names};
use crate::console_support::Web;
use crate::harness::TestApp;
use reqwest::StatusCode;

backend_test!(
    probed_pages_are_the_pages_of_the_full_order,
    |app: TestApp| async move {
        let (_, seller_key) = app.party("sellers", "Acme").await;
        // 45 products, prices with ties; every third one also says 监控.
        let mut made: Vec<(String, String, i64)> = Vec::new();
        for n in 0..45_u32 {
            let name = format!("Probe {n:02}");
            let price = i64::from(n % 7) * 100 + 100;
            let description = if n.is_multiple_of(3) {
                "主机监控 tools"
            } else {
                "plain tools"
            };
            let id = listed(&app, &seller_key, &name, description, price).await;
            made.push((id, name, price));
        }
        let web = Web::new(&app);
        let pages = |query: &'static str| {
            let web = &web;
            async move {
                let mut all = Vec::new();
                for page in 1..=3 {
                    let r = web.get(&format!("/shop?{query}&page={page}")).await;
                    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                    all.extend(names(&r.text));
                }
                all
            }
        };
        let newest = |a: &(String, String, i64), b: &(String, String, i64)| b.0.cmp(&a.0);
        let mut asc = made.clone();
        asc.sort_by(|a, b| a.2.cmp(&b.2).then(newest(a, b)));
        let mut desc = made.clone();
        desc.sort_by(|a, b| b.2.cmp(&a.2).then(newest(a, b)));
        let mut new_first = made.clone();
        new_first.sort_by(newest);
        let expect =
            |v: &[(String, String, i64)]| v.iter().map(|p| p.1.clone()).collect::<Vec<_>>();
        assert_eq!(pages("sort=price_asc").await, expect(&asc));
        assert_eq!(pages("sort=price_desc").await, expect(&desc));
        assert_eq!(pages("sort=newest").await, expect(&new_first));
        let words: Vec<_> = new_first
            .iter()
            .filter(|p| {
                let n: usize = p.1[6..].parse().unwrap();
                n.is_multiple_of(3) && p.2 >= 300
            })
            .cloned()
            .collect();
        assert_eq!(pages("q=监控&min=3&sort=newest").await, expect(&words));
        // A word and a prefix in price order (SQLite's probe tests each row's own terms):
        // the prefix matches only at a term's start.
        let priced: Vec<_> = asc
            .iter()
            .filter(|p| p.1[6..].parse::<usize>().unwrap().is_multiple_of(3))
            .cloned()
            .collect();
        assert_eq!(pages("q=监控+too&sort=price_asc").await, expect(&priced));
        assert_eq!(pages("q=ools&sort=price_asc").await, Vec::<String>::new());
    }
);

backend_test!(
    relevance_pages_are_bm25s_order_on_sqlite_and_newest_first_on_postgres,
    |app: TestApp| async move {
        let (_, seller_key) = app.party("sellers", "Acme").await;
        // 30 products saying `zeta` with 0, 1 or 2 other words (so 1 to 3 more terms than
        // the shortest), and 4 that do not say it.
        let fillers = ["alpha", "beta"];
        let mut made: Vec<(String, String, usize)> = Vec::new();
        for n in 0..34_usize {
            let name = format!("Rank {n:02}");
            let (word, k) = if n < 30 {
                ("zeta", n % 3)
            } else {
                ("omega", 0)
            };
            let description = std::iter::once(word)
                .chain(fillers.iter().take(k).copied())
                .collect::<Vec<_>>()
                .join(" ");
            let id = listed(&app, &seller_key, &name, &description, 100).await;
            made.push((id, name, k));
        }
        let web = Web::new(&app);
        let mut shown = Vec::new();
        for page in 1..=2 {
            let r = web.get(&format!("/shop?q=zeta&page={page}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            shown.extend(names(&r.text));
        }
        let mut expect: Vec<_> = made.into_iter().take(30).collect();
        // SQLite: bm25, which with every term indexed once is shortest first (search.rs),
        // ties newest first; PostgreSQL: newest first (docs/consoles.md "Search").
        let sqlite = app.state.store.backend() == souk_store::Backend::Sqlite;
        expect.sort_by(|a, b| {
            let by_rank = if sqlite {
                a.2.cmp(&b.2)
            } else {
                std::cmp::Ordering::Equal
            };
            by_rank.then(b.0.cmp(&a.0))
        });
        let expect: Vec<_> = expect.into_iter().map(|p| p.1).collect();
        assert_eq!(shown, expect);
    }
);
