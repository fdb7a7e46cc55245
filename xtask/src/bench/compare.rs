//! `--store postgres`: the PostgreSQL run's phases beside the sled run's of the same `cargo xtask
//! bench`, as ratios of their rates, and the PostgreSQL engine's aims judged against them. Pure
//! functions, tested below; the figures are printed, never asserted.
//!
//! The aims, as ratios to sled in the same run: GET by id and `userName eq` (hit and miss) at
//! least 0.4 ×; create and PATCH (suspend, reactivate) at least 0.6 ×, with durable commits; a p99
//! of at most 20 ms in every phase; and the filter's rate flat from the smallest store to
//! 1,000,000 users (at least 0.8 × of its rate at the smallest, the sled target's measure).

use serde_json::{json, Value};

use super::report::{grid, round, thousands, Phase, Run, Store, Verdict, MILLION};

/// A phase of the PostgreSQL run beside the sled run's phase of the same stage, name and store.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub sled: Phase,
    pub postgres: Phase,
}

impl Row {
    /// PostgreSQL's rate over sled's.
    pub fn ratio(&self) -> f64 {
        if self.sled.rps > 0.0 {
            self.postgres.rps / self.sled.rps
        } else {
            0.0
        }
    }

    fn label(&self) -> String {
        let p = &self.postgres;
        match p.stage {
            "store" => format!("{} ({} users)", p.name, thousands(p.users)),
            "tenants" => format!("{} (tenant)", p.name),
            _ => p.name.clone(),
        }
    }
}

/// Every phase that both runs measured, in the PostgreSQL run's order.
pub fn rows(sled: &Run, postgres: &Run) -> Vec<Row> {
    postgres
        .phases
        .iter()
        .filter_map(|p| {
            let s = sled
                .phases
                .iter()
                .find(|s| s.stage == p.stage && s.name == p.name && s.users == p.users)?;
            Some(Row {
                sled: s.clone(),
                postgres: p.clone(),
            })
        })
        .collect()
}

/// An aim of the PostgreSQL engine and how this run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Aim {
    pub what: String,
    pub wanted: &'static str,
    pub measured: String,
    pub verdict: Verdict,
}

/// The largest p99 a phase may have on PostgreSQL.
pub const MAX_P99_MS: f64 = 20.0;

/// The aims, judged against the two runs.
pub fn aims(sled: &Run, postgres: &Run) -> Vec<Aim> {
    let rows = rows(sled, postgres);
    let workload = |name: &str| {
        rows.iter()
            .find(|r| r.postgres.stage == "workload" && r.postgres.name == name)
    };
    let mut out = Vec::new();
    for (name, what, least, wanted) in [
        ("get", "GET by id", 0.4, "≥ 0.4 × sled"),
        ("filter-hit", "userName eq, hit", 0.4, "≥ 0.4 × sled"),
        ("filter-miss", "userName eq, miss", 0.4, "≥ 0.4 × sled"),
        ("create", "create (durable)", 0.6, "≥ 0.6 × sled"),
        (
            "patch-suspend",
            "PATCH suspend (durable)",
            0.6,
            "≥ 0.6 × sled",
        ),
        (
            "patch-reactivate",
            "PATCH reactivate (durable)",
            0.6,
            "≥ 0.6 × sled",
        ),
    ] {
        let row = workload(name);
        out.push(Aim {
            what: what.to_string(),
            wanted,
            measured: row.map_or_else(
                || "-".into(),
                |r| {
                    format!(
                        "{:.2} × ({} against {}/s)",
                        r.ratio(),
                        thousands(r.postgres.rps.round() as u64),
                        thousands(r.sled.rps.round() as u64)
                    )
                },
            ),
            verdict: match row {
                None => Verdict::NotRun,
                Some(r) if r.ratio() >= least => Verdict::Met,
                Some(_) => Verdict::Missed,
            },
        });
    }

    // Every phase's p99 on PostgreSQL: the worst one, and how many are over.
    let worst = postgres
        .phases
        .iter()
        .max_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms));
    let over: Vec<&Phase> = postgres
        .phases
        .iter()
        .filter(|p| p.p99_ms > MAX_P99_MS)
        .collect();
    out.push(Aim {
        what: "p99, every phase".into(),
        wanted: "≤ 20 ms",
        measured: worst.map_or_else(
            || "-".into(),
            |w| {
                format!(
                    "worst {:.1} ms ({}, {} users); {} of {} phases over",
                    w.p99_ms,
                    w.name,
                    thousands(w.users),
                    over.len(),
                    postgres.phases.len()
                )
            },
        ),
        verdict: match worst {
            None => Verdict::NotRun,
            Some(_) if over.is_empty() => Verdict::Met,
            Some(_) => Verdict::Missed,
        },
    });

    // The filter's rate at the largest store over its rate at the smallest, on PostgreSQL.
    let smallest = postgres.stores.iter().min_by_key(|s| s.users);
    let largest = postgres.stores.iter().max_by_key(|s| s.users);
    let rate = |name: &str, users: u64| {
        postgres
            .phases
            .iter()
            .find(|p| p.stage == "store" && p.name == name && p.users == users)
            .map(|p| p.rps)
    };
    let flat = match (smallest, largest) {
        (Some(small), Some(big)) if big.users > small.users => {
            let ratio = |name: &str| {
                let (a, b) = (rate(name, small.users)?, rate(name, big.users)?);
                (a > 0.0).then(|| b / a)
            };
            ratio("filter-hit")
                .zip(ratio("filter-miss"))
                .map(|r| (small, big, r))
        }
        _ => None,
    };
    out.push(Aim {
        what: "filter cost flat to 1,000,000 users".into(),
        wanted: "≥ 0.8 × the rate at 1,000",
        measured: flat.map_or_else(
            || "-".into(),
            |(small, big, (hit, miss))| {
                format!(
                    "{} → {} users: hit {hit:.2} ×, miss {miss:.2} ×",
                    thousands(small.users),
                    thousands(big.users)
                )
            },
        ),
        verdict: match flat {
            Some((_, big, (hit, miss))) if big.users >= MILLION => {
                if hit >= 0.8 && miss >= 0.8 {
                    Verdict::Met
                } else {
                    Verdict::Missed
                }
            }
            _ => Verdict::NotRun,
        },
    });
    out
}

/// The printed comparison: what shares the machine, the phases side by side, the stores side by
/// side, and the aims.
pub fn table(sled: &Run, postgres: &Run, cpus: usize) -> String {
    let mut s = format!(
        "PostgreSQL beside sled, the same phases in the same run ({} build, {} connections).\n\
         Server, database and load share this machine's {cpus} CPUs: {}.\n\
         Durability: sled {}; PostgreSQL {}, fsync on.\n\n",
        postgres.profile,
        postgres.concurrency,
        postgres.pinning,
        sled.durability,
        postgres.durability
    );
    let head = [
        "phase",
        "sled req/s",
        "p99 ms",
        "postgres req/s",
        "p99 ms",
        "ratio",
    ];
    let body: Vec<Vec<String>> = rows(sled, postgres)
        .iter()
        .map(|r| {
            vec![
                r.label(),
                thousands(r.sled.rps.round() as u64),
                format!("{:.2}", r.sled.p99_ms),
                thousands(r.postgres.rps.round() as u64),
                format!("{:.2}", r.postgres.p99_ms),
                format!("{:.2}", r.ratio()),
            ]
        })
        .collect();
    s.push_str(&grid(&head, &body));
    let stores: Vec<(&Store, &Store)> = postgres
        .stores
        .iter()
        .filter_map(|p| Some((sled.stores.iter().find(|s| s.users == p.users)?, p)))
        .collect();
    if !stores.is_empty() {
        s.push('\n');
        let head = [
            "store",
            "loaded in (sled)",
            "(postgres)",
            "ready in (sled)",
            "(postgres)",
            "size (sled)",
            "(postgres)",
        ];
        let body: Vec<Vec<String>> = stores
            .iter()
            .map(|(a, b)| {
                vec![
                    format!("{} users", thousands(b.users)),
                    format!("{:.1} s", a.preload_seconds),
                    format!("{:.1} s", b.preload_seconds),
                    format!("{:.0} ms", a.start_ms),
                    format!("{:.0} ms", b.start_ms),
                    format!("{:.1} MiB", a.disk_mib),
                    format!("{:.1} MiB", b.disk_mib),
                ]
            })
            .collect();
        s.push_str(&grid(&head, &body));
        s.push_str(
            "(sled: `du` of its folder; PostgreSQL: pg_database_size, without the write-ahead log)\n",
        );
    }
    s.push('\n');
    let head = [
        "aim (PostgreSQL, printed, never asserted)",
        "wanted",
        "measured",
        "verdict",
    ];
    let body: Vec<Vec<String>> = aims(sled, postgres)
        .into_iter()
        .map(|a| {
            vec![
                a.what,
                a.wanted.to_string(),
                a.measured,
                a.verdict.text().to_string(),
            ]
        })
        .collect();
    s.push_str(&grid(&head, &body));
    s
}

fn verdict_json(v: Verdict) -> &'static str {
    match v {
        Verdict::Met => "met",
        Verdict::Missed => "not met",
        Verdict::NotRun => "not run",
    }
}

/// The JSON document of a `--store postgres` run: both runs whole, the rows and the aims.
pub fn to_json(sled: &Run, postgres: &Run) -> Value {
    json!({
        "format": 1,
        "store": "postgres",
        "sled": sled.to_json(),
        "postgres": postgres.to_json(),
        "side_by_side": rows(sled, postgres).iter().map(|r| json!({
            "name": r.postgres.name,
            "stage": r.postgres.stage,
            "users_stored": r.postgres.users,
            "sled_requests_per_second": round(r.sled.rps, 1),
            "postgres_requests_per_second": round(r.postgres.rps, 1),
            "ratio": round(r.ratio(), 3),
            "sled_p99_ms": round(r.sled.p99_ms, 3),
            "postgres_p99_ms": round(r.postgres.p99_ms, 3),
        })).collect::<Vec<_>>(),
        "aims": aims(sled, postgres).iter().map(|a| json!({
            "what": a.what,
            "wanted": a.wanted,
            "measured": a.measured,
            "verdict": verdict_json(a.verdict),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(stage: &'static str, name: &str, users: u64, rps: f64, p99_ms: f64) -> Phase {
        Phase::new(
            name,
            users,
            vec![(p99_ms * 1e6) as u64; 10],
            0,
            10.0 / rps,
            [1.0, 0.0, 0.5, 0.0],
            0,
        )
        .in_stage(stage)
    }

    fn store(users: u64) -> Store {
        Store {
            users,
            preload_seconds: 1.0,
            start_ms: 50.0,
            peak_rss_mib: 40.0,
            rss_mib: 30.0,
            disk_mib: 10.0,
        }
    }

    fn run(store_name: &'static str, scale: f64, largest: u64) -> Run {
        let mut phases = vec![
            phase("workload", "livez", 0, 60_000.0, 0.5),
            phase("workload", "create", 0, 5_000.0 * scale, 8.0),
            phase("workload", "get", 10_000, 30_000.0 * scale, 1.0),
            phase("workload", "filter-hit", 10_000, 20_000.0 * scale, 1.0),
            phase("workload", "filter-miss", 10_000, 20_000.0 * scale, 1.0),
            phase("workload", "patch-suspend", 10_000, 5_000.0 * scale, 8.0),
            phase("workload", "patch-reactivate", 10_000, 5_000.0, 8.0),
        ];
        for (users, rate) in [(1_000, 20_000.0), (largest, 19_000.0)] {
            phases.push(phase("store", "filter-hit", users, rate * scale, 1.0));
            phases.push(phase("store", "filter-miss", users, rate * scale, 1.0));
        }
        Run {
            store: store_name,
            mode: "full",
            profile: "release",
            concurrency: 16,
            pinning: "server on CPU 0, load on CPU 1".into(),
            durability: "per-request".into(),
            phases,
            workload_peak_rss_mib: 80.0,
            workload_disk_mib: 12.0,
            stores: vec![store(1_000), store(largest)],
            tenants: None,
        }
    }

    fn verdict(aims: &[Aim], what: &str) -> Verdict {
        aims.iter()
            .find(|a| a.what.starts_with(what))
            .map(|a| a.verdict)
            .unwrap_or_else(|| panic!("no aim {what}"))
    }

    #[test]
    fn phases_are_paired_by_stage_name_and_store() {
        let (sled, pg) = (run("sled", 1.0, MILLION), run("postgres", 0.5, MILLION));
        let r = rows(&sled, &pg);
        assert_eq!(r.len(), pg.phases.len());
        let get = r.iter().find(|r| r.postgres.name == "get").expect("get");
        assert!((get.ratio() - 0.5).abs() < 1e-9);
        assert_eq!(r[7].label(), "filter-hit (1,000 users)");
        // A phase sled did not run has no row.
        let mut fewer = sled.clone();
        fewer.phases.retain(|p| p.name != "get");
        assert_eq!(rows(&fewer, &pg).len(), pg.phases.len() - 1);
    }

    #[test]
    fn aims_are_ratios_to_sled_judged_not_asserted() {
        let (sled, pg) = (run("sled", 1.0, MILLION), run("postgres", 0.5, MILLION));
        let a = aims(&sled, &pg);
        assert_eq!(verdict(&a, "GET by id"), Verdict::Met, "0.5 ≥ 0.4");
        assert_eq!(verdict(&a, "create"), Verdict::Missed, "0.5 < 0.6");
        assert_eq!(verdict(&a, "PATCH reactivate"), Verdict::Met, "1.0");
        assert_eq!(verdict(&a, "p99"), Verdict::Met);
        assert_eq!(verdict(&a, "filter cost"), Verdict::Met, "0.95 × flat");

        let mut slow = pg.clone();
        slow.phases[1].p99_ms = 35.0;
        let a = aims(&sled, &slow);
        assert_eq!(verdict(&a, "p99"), Verdict::Missed);
        let p99 = a.iter().find(|a| a.what.starts_with("p99")).expect("p99");
        assert!(
            p99.measured
                .contains("worst 35.0 ms (create, 0 users); 1 of 11"),
            "{}",
            p99.measured
        );

        // Without a million users the flatness is shown, not judged.
        let (sled, pg) = (run("sled", 1.0, 100_000), run("postgres", 0.5, 100_000));
        let a = aims(&sled, &pg);
        assert_eq!(verdict(&a, "filter cost"), Verdict::NotRun);
        let flat = a
            .iter()
            .find(|a| a.what.starts_with("filter"))
            .expect("flat");
        assert!(flat.measured.contains("1,000 → 100,000 users: hit 0.95 ×"));
    }

    #[test]
    fn the_comparison_says_what_shares_the_machine() {
        let (sled, mut pg) = (run("sled", 1.0, MILLION), run("postgres", 0.5, MILLION));
        pg.pinning = "server on CPU 0, load on CPU 1; the database on CPU 0 with the server".into();
        let t = table(&sled, &pg, 2);
        for needle in [
            "Server, database and load share this machine's 2 CPUs",
            "the database on CPU 0 with the server",
            "filter-miss (1,000,000 users)",
            "0.50",
            "1,000,000 users",
            "never asserted",
        ] {
            assert!(t.contains(needle), "{needle} in\n{t}");
        }
        let j = to_json(&sled, &pg);
        assert_eq!(j["store"], "postgres");
        assert_eq!(j["sled"]["store"], "sled");
        assert_eq!(j["postgres"]["store"], "postgres");
        assert_eq!(j["side_by_side"][2]["ratio"], 0.5);
        assert_eq!(j["aims"].as_array().map(Vec::len), Some(8));
    }
}
