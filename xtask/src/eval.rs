//! `cargo xtask eval [--data FILE] [--seed N] [--no-baselines] [--json] [--check]`: offline accuracy of
//! Orbita's recommenders against the `implicit` package's, on one split in one run.
//!
//! Protocol (Microsoft Recommenders' benchmark): every rating is an implicit positive; a
//! per-visitor stratified random 75/25 split with a fixed seed; k = 10; each visitor's top 10 is
//! ranked over the products seen in train minus the visitor's own train products. Orbita's
//! models are fitted and asked here; the split is written to `target/eval/` and handed to
//! `bench/eval/baselines.py`, whose top-10 lists are scored by the same metric code
//! (`engine::eval::rank_metrics`). The data is MovieLens-100k from RecBole's wheel, fetched at
//! evaluation time into `.tools/cache/eval/` (git-ignored; GroupLens' terms forbid
//! redistribution), or any `user,item,rating,timestamp` CSV given with `--data`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use engine::eval::{rank_metrics, stratified_split, Metrics, Pair};
use engine::models::cooccurrence::Cooccurrence;
use engine::models::ease::Ease;
use engine::models::popularity::Popularity;
use engine::models::{Histories, NeighbourTable};

use crate::tools::{python_env, root, run, Tools};
use crate::Result;

/// What `cargo xtask eval --help` prints.
pub const HELP: &str = "cargo xtask eval [--data FILE] [--seed N] [--no-baselines] [--json] [--check]

Offline accuracy of Orbita's recommenders and of the `implicit` package's ALS, BPR and item-kNN
(BM25), on the same split in one run, with the Microsoft Recommenders benchmark protocol: all
ratings are implicit positives; per-user stratified random 75/25 split (seed 42 unless --seed);
k = 10; each user's top 10 is ranked over the items seen in train minus the user's own train items.

Data: MovieLens-100k, read from the recbole==1.2.1 wheel (pip download --no-deps, hash-checked,
into .tools/cache/eval/; never committed: its licence forbids redistribution), or with
--data FILE any CSV with the header `user,item,rating,timestamp` (plain commas, no quoting;
users and items may be any strings; a repeated user,item pair counts once).
The split is written to target/eval/{train,test}.csv (dense numbers) for the baselines.
--no-baselines skips the Python baselines (and their venv, .tools/py-eval, bench/eval/requirements.txt).
--check fails (exit 1) unless EASE reaches the accuracy goal of issue #6, NDCG@10 >= 0.45 and
P@10 >= 0.40 (`cargo xtask test` runs it on MovieLens-100k). Fit times are reported, never checked.

Columns / --json fields (one JSON object per model):
  data            the data set (ml-100k or the CSV's path)
  users, items    distinct users and items in the data
  train, test     interactions in each part of the split
  seed, k         split seed and list length
  model           the recommender
  source          orbita (engine/, Rust) or implicit (Python package, bench/eval/baselines.py)
  settings        its parameters
  map             MAP: per user, sum over hits in the top k of (hits so far / rank), divided by
                  the number of test items; mean over users (Microsoft Recommenders `map`, the
                  figure its published tables call MAP)
  map_at_k        the same sum divided by min(test items, k) (Microsoft Recommenders `map_at_k`)
  ndcg_at_k       NDCG@k, binary relevance, ideal = min(test items, k) hits at the top
  precision_at_k  hits in the top k / k, mean over users
  recall_at_k     hits in the top k / test items, mean over users
  coverage        distinct items recommended to anyone / distinct items in train
  fit_s           seconds to fit the model (wall clock; recommending is not included)
  fit_vs_als      fit_s divided by implicit ALS's fit_s in this run (null without baselines)
Means are over users with at least one test item.";

/// Interactions with users and items numbered densely.
#[derive(Debug)]
struct Data {
    name: String,
    pairs: Vec<Pair>,
    users: usize,
    items: usize,
}

/// One result row.
struct Row {
    model: String,
    source: &'static str,
    settings: String,
    metrics: Metrics,
    fit_s: f64,
}

/// Runs the evaluation with the command-line flags after `eval`.
pub fn run_eval(flags: &[String]) -> Result {
    if flags.iter().any(|f| f == "--help") {
        println!("{HELP}");
        return Ok(());
    }
    let json = flags.iter().any(|f| f == "--json");
    let baselines = !flags.iter().any(|f| f == "--no-baselines");
    let seed: u64 = match crate::flag_value(flags, "--seed") {
        Some(s) => s
            .parse()
            .map_err(|_| format!("--seed {s:?} is not a number"))?,
        None => 42,
    };
    let k = 10;
    // Needs only Python and the engine: no wasm or npm tools to install.
    let tools = Tools::new();
    let data = match crate::flag_value(flags, "--data") {
        Some(file) => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
            parse(&file, &text, ',', "user,item,rating,timestamp")?
        }
        None => movielens_100k(&tools)?,
    };
    let split = stratified_split(&data.pairs, 0.75, seed);
    let train = Histories::from_pairs(&split.train, data.items);
    let train_items = {
        let mut seen = vec![false; data.items];
        split
            .train
            .iter()
            .for_each(|p| seen[p.item as usize] = true);
        seen.iter().filter(|s| **s).count()
    };
    eprintln!(
        "eval: {} — {} users, {} items, {} train / {} test interactions, seed {seed}",
        data.name,
        data.users,
        data.items,
        split.train.len(),
        split.test.len()
    );

    let score = |lists: &[Vec<u32>]| rank_metrics(lists, &split.test, k, train_items);
    let mut rows = Vec::new();

    let started = Instant::now();
    let popularity = Popularity::fit(&train);
    let fit_s = started.elapsed().as_secs_f64();
    let lists: Vec<Vec<u32>> = train
        .visitors
        .iter()
        .map(|h| {
            popularity
                .recommend(h, k)
                .iter()
                .map(|s| s.product)
                .collect()
        })
        .collect();
    rows.push(Row {
        model: "popularity".into(),
        source: "orbita",
        settings: "weighted choices per item".into(),
        metrics: score(&lists),
        fit_s,
    });

    let cooc = Cooccurrence::default();
    let (table, fit_s) = timed(|| cooc.fit(&train));
    rows.push(Row {
        model: "co-occurrence".into(),
        source: "orbita",
        settings: format!(
            "top {} neighbours, alpha {}, damping {}",
            cooc.neighbours, cooc.alpha, cooc.damping
        ),
        metrics: score(&recommend_all(&table, &train, k)),
        fit_s,
    });

    let ease = Ease::default();
    let (table, fit_s) = timed(|| ease.fit(&train));
    let table = table.ok_or("EASE: the Gram matrix is not positive definite")?;
    rows.push(Row {
        model: "EASE".into(),
        source: "orbita",
        settings: format!("lambda {}, all weights (exact)", ease.lambda),
        metrics: score(&recommend_all(&table, &train, k)),
        fit_s,
    });
    let pruned_n = 100;
    let (pruned, prune_s) = timed(|| table.pruned(pruned_n));
    rows.push(Row {
        model: format!("EASE top-{pruned_n} table"),
        source: "orbita",
        settings: format!(
            "lambda {}, {pruned_n} largest-magnitude weights per item",
            ease.lambda
        ),
        metrics: score(&recommend_all(&pruned, &train, k)),
        fit_s: fit_s + prune_s,
    });

    if baselines {
        rows.extend(python_baselines(
            &tools,
            &split.train,
            &split.test,
            k,
            &score,
        )?);
    }
    let als = rows
        .iter()
        .find(|r| r.model == "implicit ALS")
        .map(|r| r.fit_s);
    print_rows(&data, &split, seed, k, &rows, als, json);
    let ease = rows
        .iter()
        .find(|r| r.model == "EASE")
        .ok_or("no EASE row")?;
    let (ndcg, precision) = (ease.metrics.ndcg, ease.metrics.precision);
    let accurate = ndcg >= GOAL_NDCG && precision >= GOAL_PRECISION;
    let fast = als.map(|a| ease.fit_s <= a);
    if !json {
        println!(
            "{}goal (issue #6, set for MovieLens-100k): NDCG@10 >= {GOAL_NDCG:.2}, \
             P@10 >= {GOAL_PRECISION:.2}, fit <= implicit ALS: EASE {ndcg:.3} / {precision:.3} ({}), \
             fit {:.3} s ({})",
            if data.name == "ml-100k" { "" } else { "for reference only, " },
            if accurate { "met" } else { "NOT met" },
            ease.fit_s,
            match fast {
                Some(true) => "met",
                Some(false) => "NOT met",
                None => "no ALS in this run",
            }
        );
    }
    if flags.iter().any(|f| f == "--check") && !accurate {
        return Err(format!(
            "EASE reached NDCG@10 {ndcg:.3} / P@10 {precision:.3}, below the goal {GOAL_NDCG:.2} / {GOAL_PRECISION:.2}"
        ));
    }
    Ok(())
}

/// NDCG@10 that EASE must reach for `--check` (issue #6's goal on MovieLens-100k).
const GOAL_NDCG: f64 = 0.45;
/// Precision@10 that EASE must reach for `--check`.
const GOAL_PRECISION: f64 = 0.40;

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed().as_secs_f64())
}

fn recommend_all(table: &NeighbourTable, train: &Histories, k: usize) -> Vec<Vec<u32>> {
    train
        .visitors
        .iter()
        .map(|h| table.recommend(h, k).iter().map(|s| s.product).collect())
        .collect()
}

/// Parses delimited text with a header line into dense numbers. Users and items are numbered
/// in sorted order (numerically when every ID is a number), so the numbering, and with it the
/// split, depends only on the set of interactions.
fn parse(name: &str, text: &str, sep: char, header: &str) -> Result<Data> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().trim();
    let columns: Vec<&str> = first.split(sep).map(str::trim).collect();
    if columns.join(",") != header {
        return Err(format!(
            "{name}: the header must be `{header}`, found `{first}`"
        ));
    }
    let mut raw: Vec<(&str, &str)> = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(sep).map(str::trim).collect();
        if fields.len() != columns.len() {
            return Err(format!(
                "{name}:{}: expected {} fields, found {}",
                n + 2,
                columns.len(),
                fields.len()
            ));
        }
        raw.push((fields[0], fields[1]));
    }
    let users = numbering(raw.iter().map(|r| r.0));
    let items = numbering(raw.iter().map(|r| r.1));
    let pairs = raw
        .iter()
        .map(|(u, i)| Pair {
            user: users[u],
            item: items[i],
        })
        .collect();
    Ok(Data {
        name: name.into(),
        pairs,
        users: users.len(),
        items: items.len(),
    })
}

/// Numbers distinct IDs 0.. in sorted order: numerically if all are integers, else as text.
fn numbering<'a>(ids: impl Iterator<Item = &'a str>) -> HashMap<&'a str, u32> {
    let mut distinct: Vec<&str> = ids.collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.iter().all(|id| id.parse::<i64>().is_ok()) {
        distinct.sort_by_key(|id| id.parse::<i64>().unwrap_or_default());
    }
    distinct
        .into_iter()
        .enumerate()
        .map(|(n, id)| (id, n as u32))
        .collect()
}

/// MovieLens-100k from RecBole's wheel, downloaded (hash-checked) once into `.tools/cache/eval/`.
fn movielens_100k(tools: &Tools) -> Result<Data> {
    let cache = tools.root.join(".tools/cache/eval");
    let inter = cache.join("ml-100k.inter");
    if !inter.exists() {
        std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
        let wheel = cache.join("recbole-1.2.1-py3-none-any.whl");
        if !wheel.exists() {
            eprintln!(
                "eval: downloading the recbole 1.2.1 wheel (MovieLens-100k inside) from PyPI"
            );
            run(Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(["--no-deps", "--require-hashes", "-r"])
                .arg(tools.root.join("bench/eval/data-requirements.txt"))
                .arg("-d")
                .arg(&cache))?;
        }
        // Python's zipfile reads the wheel (a zip); only the interactions file is kept.
        let unzip = "import sys, zipfile; open(sys.argv[3], 'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))";
        run(Command::new("python3")
            .args(["-c", unzip])
            .arg(&wheel)
            .arg("recbole/dataset_example/ml-100k/ml-100k.inter")
            .arg(&inter))?;
    }
    let text = std::fs::read_to_string(&inter).map_err(|e| format!("{}: {e}", inter.display()))?;
    // RecBole's header is `user_id:token item_id:token rating:float timestamp:float`, tab-separated.
    let text = text.replacen(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float",
        "user\titem\trating\ttimestamp",
        1,
    );
    parse("ml-100k", &text, '\t', "user,item,rating,timestamp")
}

/// Writes the split, runs `bench/eval/baselines.py` in its venv and scores the lists it wrote.
fn python_baselines(
    tools: &Tools,
    train: &[Pair],
    test: &[Pair],
    k: usize,
    score: &dyn Fn(&[Vec<u32>]) -> Metrics,
) -> Result<Vec<Row>> {
    let python = python_env(
        tools,
        "py-eval",
        "bench/eval/requirements.txt",
        "the implicit package",
    )?;
    let dir = root().join("target/eval");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    write_pairs(&dir.join("train.csv"), train)?;
    write_pairs(&dir.join("test.csv"), test)?;
    eprintln!("eval: fitting implicit's ALS, BPR and item-kNN (bench/eval/baselines.py)");
    let out = Command::new(&python)
        .arg(tools.root.join("bench/eval/baselines.py"))
        .arg(&dir)
        .arg(k.to_string())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "baselines.py failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let users = train.iter().map(|p| p.user as usize + 1).max().unwrap_or(0);
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("baselines.py said {line:?}: {e}"))?;
        let field = |name: &str| {
            v.get(name)
                .ok_or_else(|| format!("baselines.py: no {name} in {line}"))
        };
        let recs = field("recs")?.as_str().unwrap_or_default();
        let lists = read_lists(Path::new(recs), users)?;
        rows.push(Row {
            model: field("model")?.as_str().unwrap_or_default().into(),
            source: "implicit",
            settings: field("settings")?.as_str().unwrap_or_default().into(),
            metrics: score(&lists),
            fit_s: field("fit_s")?.as_f64().unwrap_or(f64::NAN),
        });
    }
    Ok(rows)
}

fn write_pairs(path: &PathBuf, pairs: &[Pair]) -> Result {
    let mut text = String::from("user,item\n");
    for p in pairs {
        text.push_str(&format!("{},{}\n", p.user, p.item));
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads `user item item ...` lines into per-user lists.
fn read_lists(path: &Path, users: usize) -> Result<Vec<Vec<u32>>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lists = vec![Vec::new(); users];
    for line in text.lines() {
        let mut numbers = line.split_whitespace().map(str::parse::<u32>);
        let bad = || format!("{}: bad line {line:?}", path.display());
        let user = numbers.next().ok_or_else(bad)?.map_err(|_| bad())? as usize;
        let list = numbers
            .collect::<std::result::Result<Vec<u32>, _>>()
            .map_err(|_| bad())?;
        *lists.get_mut(user).ok_or_else(bad)? = list;
    }
    Ok(lists)
}

fn print_rows(
    data: &Data,
    split: &engine::eval::Split,
    seed: u64,
    k: usize,
    rows: &[Row],
    als: Option<f64>,
    json: bool,
) {
    if json {
        for r in rows {
            let m = &r.metrics;
            let row = serde_json::json!({
                "data": data.name,
                "users": data.users,
                "items": data.items,
                "train": split.train.len(),
                "test": split.test.len(),
                "seed": seed,
                "k": k,
                "model": r.model,
                "source": r.source,
                "settings": r.settings,
                "map": m.map,
                "map_at_k": m.map_at_k,
                "ndcg_at_k": m.ndcg,
                "precision_at_k": m.precision,
                "recall_at_k": m.recall,
                "coverage": m.coverage,
                "fit_s": r.fit_s,
                "fit_vs_als": als.map(|a| r.fit_s / a),
            });
            println!("{row}");
        }
        return;
    }
    println!(
        "{} — {} users, {} items; split 75/25 per user, seed {seed}: {} train / {} test; k = {k}; {} users scored",
        data.name,
        data.users,
        data.items,
        split.train.len(),
        split.test.len(),
        rows.first().map_or(0, |r| r.metrics.users)
    );
    println!(
        "{:<24} {:<9} {:>6} {:>7} {:>8} {:>6} {:>6} {:>8} {:>8} {:>7}  settings",
        "model",
        "source",
        "MAP",
        "MAP@k",
        "NDCG@10",
        "P@10",
        "R@10",
        "coverage",
        "fit s",
        "fit/ALS"
    );
    for r in rows {
        let m = &r.metrics;
        let ratio = als.map_or("-".to_string(), |a| format!("{:.2}", r.fit_s / a));
        println!(
            "{:<24} {:<9} {:>6.3} {:>7.3} {:>8.3} {:>6.3} {:>6.3} {:>8.3} {:>8.3} {:>7}  {}",
            r.model,
            r.source,
            m.map,
            m.map_at_k,
            m.ndcg,
            m.precision,
            m.recall,
            m.coverage,
            r.fit_s,
            ratio,
            r.settings
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_ids_are_numbered_in_sorted_order_and_bad_input_is_named() {
        let data = parse(
            "t.csv",
            "user,item,rating,timestamp\n10,b,5,1\n9,a,3,2\n10,a,1,3\n",
            ',',
            "user,item,rating,timestamp",
        )
        .unwrap();
        // Users 9 → 0, 10 → 1 (numeric order, not text order); items a → 0, b → 1.
        assert_eq!(
            data.pairs,
            vec![
                Pair { user: 1, item: 1 },
                Pair { user: 0, item: 0 },
                Pair { user: 1, item: 0 }
            ]
        );
        assert_eq!((data.users, data.items), (2, 2));
        let header = parse("t.csv", "u,i\n1,2\n", ',', "user,item,rating,timestamp");
        assert!(header.unwrap_err().contains("header"));
        let short = parse(
            "t.csv",
            "user,item,rating,timestamp\n1,2,3\n",
            ',',
            "user,item,rating,timestamp",
        );
        assert!(short.unwrap_err().contains("t.csv:2"));
    }

    /// A synthetic shop with taste groups: each visitor picks most products from one group.
    /// The item-to-item models must find the group and beat popularity by a wide margin; a
    /// broken split, model or metric would not.
    #[test]
    fn harness_smoke_test_on_synthetic_tastes() {
        let (groups, per_group, users) = (5u32, 20u32, 300u32);
        let mut pairs = Vec::new();
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        for user in 0..users {
            let group = user % groups;
            for _ in 0..12 {
                // 9 in 10 picks from the visitor's group, the rest anywhere.
                let item = if next() % 10 < 9 {
                    group * per_group + next() % per_group
                } else {
                    next() % (groups * per_group)
                };
                pairs.push(Pair { user, item });
            }
        }
        let items = (groups * per_group) as usize;
        let split = stratified_split(&pairs, 0.75, 42);
        let train = Histories::from_pairs(&split.train, items);
        let metrics = |lists: &[Vec<u32>]| rank_metrics(lists, &split.test, 10, items);
        let pop = Popularity::fit(&train);
        let pop_lists: Vec<Vec<u32>> = train
            .visitors
            .iter()
            .map(|h| pop.recommend(h, 10).iter().map(|s| s.product).collect())
            .collect();
        let popular = metrics(&pop_lists);
        let cooc = metrics(&recommend_all(
            &Cooccurrence::default().fit(&train),
            &train,
            10,
        ));
        let ease = metrics(&recommend_all(
            &Ease::default().fit(&train).unwrap(),
            &train,
            10,
        ));
        // Random lists would hit ~10 % of the time at best; group-aware lists far more often.
        assert!(popular.precision < 0.15, "{popular:?}");
        assert!(
            cooc.precision > 2.0 * popular.precision,
            "{cooc:?} vs {popular:?}"
        );
        assert!(
            ease.precision > 2.0 * popular.precision,
            "{ease:?} vs {popular:?}"
        );
        assert!(ease.ndcg > popular.ndcg && cooc.ndcg > popular.ndcg);
    }
}
