//! The tenant stage: a store of N tenants of M users each (`--tenants`, `--tenant-users`), then
//! GET by id, `userName eq` (hit and miss) and create in one of them, with the load generator of
//! the other phases, side by side with the single-tenant figures of the same run; and the
//! server's memory, start time and size on disk at N tenants.
//!
//! The tenants are created through the admin API (`POST /admin/v1/tenants`, with an operator key
//! minted by `scim-server key create --admin`), four requests in flight; each tenant's users
//! through its own `/Bulk`, with its own key, four tenants at a time. Like the stores of the
//! scale stage, they are loaded by a server with `durability = periodic`, which then stops; the
//! measured server starts on the same folder.

use std::sync::Arc;
use std::time::Instant;

use super::http::Target;
use super::load::{self, Op, Verdict};
use super::proc::ProcStatus;
use super::report::TenantStage;
use super::{preload, ready, user, Bench, Sizes, STOP_WITHIN};
use crate::tenants;

/// Requests in flight while the tenants and their users are created.
const SETUP_CONCURRENCY: usize = 4;

impl Bench<'_> {
    /// Runs the tenant stage; `None` when `--tenants 0`.
    pub(super) async fn tenants(&mut self, sizes: &Sizes) -> Result<Option<TenantStage>, String> {
        let (count, per) = (sizes.tenants, sizes.tenant_users);
        if count == 0 {
            return Ok(None);
        }
        let site = self.site("tenants")?;
        let loader = self.spawn(&site, "periodic")?;
        let operator = tenants::operator_key(&self.launch(&site, "periodic")?, "bench operator")?;
        let admin = Target::from_base_url(&tenants::origin(&loader.base)?, &operator)?;
        ready(&loader, &admin).await?;

        eprint!("== creating {count} tenants through the admin API, a tenth at a time:");
        let t0 = Instant::now();
        let mut all = Vec::with_capacity(count);
        let mut tenths = Vec::new();
        for (from, to) in tenths_of(count) {
            let t = Instant::now();
            all.extend(create_tenants(&admin, from, to).await?);
            tenths.push(t.elapsed().as_secs_f64());
            eprint!(" {:.1} s", t.elapsed().as_secs_f64());
        }
        let create_seconds = t0.elapsed().as_secs_f64();
        let empty_disk_mib = self.disk_mib(&site)?;
        eprintln!(": {create_seconds:.1} s, {empty_disk_mib:.1} MiB on disk");

        eprint!("== loading {per} users into each tenant through its /Bulk … ");
        let t0 = Instant::now();
        let mut ids = load_users(&all, per).await?;
        let load_seconds = t0.elapsed().as_secs_f64();
        eprintln!("{load_seconds:.1} s");
        loader.stop(STOP_WITHIN)?;
        self.after_load(&site)?;

        let server = self.spawn(&site, &self.args.durability.clone())?;
        let chosen = count / 2;
        let origin = tenants::origin(&server.base)?;
        let path = url::Url::parse(&all[chosen].base)
            .map_err(|e| format!("{}: {e}", all[chosen].base))?
            .path()
            .to_string();
        let target = Target::from_base_url(&format!("{origin}{path}"), &all[chosen].key)?;
        let start = ready(&server, &target).await?;
        let at_ready = ProcStatus::of(server.pid);
        eprintln!(
            "== {count} tenants: ready {:.0} ms after spawn, {:.0} MiB resident; measuring in tenant {}",
            start.as_secs_f64() * 1000.0,
            at_ready.rss_kib as f64 / 1024.0,
            all[chosen].id
        );
        let ids = Arc::new(std::mem::take(&mut ids[chosen]));
        let names = Arc::new((0..per).collect::<Vec<usize>>());
        self.reads(&server, &target, per, sizes.reads, &ids, &names, "scale")
            .await;
        self.phase(
            (&server, &target),
            "create",
            per,
            sizes.users,
            Arc::new(|i| Op::with_body("POST", "/Users".into(), &user("bench", i, false))),
            load::keep_id(),
        )
        .await;
        let status = ProcStatus::of(server.pid);
        server.stop(STOP_WITHIN)?;
        Ok(Some(TenantStage {
            tenants: count as u64,
            users_per_tenant: per as u64,
            create_seconds,
            create_tenths_seconds: tenths,
            empty_disk_mib,
            load_seconds,
            start_ms: start.as_secs_f64() * 1000.0,
            ready_rss_mib: at_ready.rss_kib as f64 / 1024.0,
            peak_rss_mib: status.hwm_kib as f64 / 1024.0,
            rss_mib: status.rss_kib as f64 / 1024.0,
            disk_mib: self.disk_mib(&site)?,
        }))
    }
}

/// Creates tenants `from..to` through the admin API.
async fn create_tenants(
    admin: &Target,
    from: usize,
    to: usize,
) -> Result<Vec<tenants::Tenant>, String> {
    let created = load::run(
        admin,
        to - from,
        SETUP_CONCURRENCY,
        Arc::new(move |i| Op {
            absolute: true,
            ..Op::with_body(
                "POST",
                "/admin/v1/tenants".into(),
                &tenants::create_body(&tenant_id(from + i), &format!("Bench tenant {}", from + i)),
            )
        }),
        Arc::new(
            |_, status, body| match tenants::parse_api_answer(status, body) {
                Ok(t) => Verdict::Keep(format!("{}\n{}\n{}", t.id, t.base, t.key)),
                Err(e) => Verdict::Wrong(e),
            },
        ),
    )
    .await;
    if created.errors > 0 || created.kept.len() != to - from {
        return Err(format!(
            "creating the tenants failed: {:?}",
            created.error_samples
        ));
    }
    Ok(created
        .kept
        .iter()
        .map(|(_, kept)| {
            let mut lines = kept.lines().map(str::to_string);
            tenants::Tenant {
                id: lines.next().unwrap_or_default(),
                base: lines.next().unwrap_or_default(),
                key: lines.next().unwrap_or_default(),
            }
        })
        .collect())
}

/// `0..count` cut in ten ranges (fewer when `count` is below 10), in order.
fn tenths_of(count: usize) -> Vec<(usize, usize)> {
    let parts = count.clamp(1, 10);
    (0..parts)
        .map(|k| (count * k / parts, count * (k + 1) / parts))
        .filter(|(a, b)| a < b)
        .collect()
}

/// The id of the `i`-th tenant of the stage.
fn tenant_id(i: usize) -> String {
    format!("bench-{i:05}")
}

/// Loads users `0..per` into every tenant, each through its own `/Bulk` and key, a few tenants
/// at a time; returns the ids of each tenant's users, in the order of their numbers.
async fn load_users(all: &[tenants::Tenant], per: usize) -> Result<Vec<Vec<String>>, String> {
    let targets: Vec<Target> = all
        .iter()
        .map(|t| Target::from_base_url(&t.base, &t.key))
        .collect::<Result<_, _>>()?;
    let targets = Arc::new(targets);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..SETUP_CONCURRENCY {
        let (targets, next) = (Arc::clone(&targets), Arc::clone(&next));
        set.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(target) = targets.get(i) else {
                    return Ok::<_, String>(out);
                };
                let got = preload(target, 0, per)
                    .await
                    .map_err(|e| format!("tenant {}: {e}", target.base_path))?;
                out.push((i, got.into_iter().map(|(_, id)| id).collect::<Vec<_>>()));
            }
        });
    }
    let mut ids = vec![Vec::new(); all.len()];
    while let Some(done) = set.join_next().await {
        for (i, got) in done.map_err(|e| format!("a loader failed: {e}"))?? {
            ids[i] = got;
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_valid_and_sort_in_order() {
        assert_eq!(tenant_id(7), "bench-00007");
        assert!(tenant_id(999) < tenant_id(1000));
    }

    #[test]
    fn tenants_are_created_a_tenth_at_a_time() {
        assert_eq!(tenths_of(1000)[0], (0, 100));
        assert_eq!(tenths_of(1000)[9], (900, 1000));
        assert_eq!(tenths_of(25).len(), 10);
        assert_eq!(tenths_of(25).last(), Some(&(22, 25)));
        assert_eq!(tenths_of(3), [(0, 1), (1, 2), (2, 3)]);
        assert!(tenths_of(0).is_empty());
        let covered: usize = tenths_of(1234).iter().map(|(a, b)| b - a).sum();
        assert_eq!(covered, 1234);
    }
}
