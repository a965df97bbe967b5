//! Precision/recall evaluation against a labelled corpus.
//!
//! Corpus format: JSON Lines, one object per document:
//! `{"text": "...", "spans": [[start, end, "type"], ...]}` with byte offsets
//! (end exclusive). A finding counts as a true positive only when type and
//! both offsets match a label exactly.

use crate::entity::EntityType;
use crate::text::scan_slice;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Hand-written corpus the recognizers were developed against.
pub const DEV_CORPUS: &str = include_str!("../tests/corpus/dev.jsonl");

/// Hand-written corpus kept out of development: written after tuning and
/// scored as written. This is the figure to quote.
pub const HOLDOUT_CORPUS: &str = include_str!("../tests/corpus/holdout.jsonl");

#[derive(Deserialize)]
struct Doc {
    text: String,
    spans: Vec<(usize, usize, String)>,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Score {
    pub tp: u64,
    pub fp: u64,
    pub r#fn: u64,
}

impl Score {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.r#fn)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub per_type: BTreeMap<EntityType, Score>,
    pub micro: Score,
    pub documents: usize,
    /// Mismatches, for diagnosis: (document index, "FP"/"FN", type, text).
    #[serde(skip)]
    pub errors: Vec<(usize, &'static str, EntityType, String)>,
}

/// Scores the text recognizers on a JSONL corpus.
pub fn evaluate(corpus: &str) -> Result<Report, String> {
    let mut rep = Report::default();
    for (n, line) in corpus
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let doc: Doc =
            serde_json::from_str(line).map_err(|e| format!("corpus line {}: {e}", n + 1))?;
        let mut gold = HashSet::new();
        for (s, e, t) in &doc.spans {
            let t = EntityType::parse(t)
                .ok_or_else(|| format!("corpus line {}: unknown type {t}", n + 1))?;
            gold.insert((t, *s, *e));
        }
        let found: HashSet<_> = scan_slice(doc.text.as_bytes()).into_iter().collect();
        let snippet =
            |s: usize, e: usize| String::from_utf8_lossy(&doc.text.as_bytes()[s..e]).into_owned();
        for &(t, s, e) in found.union(&gold) {
            let score = rep.per_type.entry(t).or_default();
            match (found.contains(&(t, s, e)), gold.contains(&(t, s, e))) {
                (true, true) => score.tp += 1,
                (true, false) => {
                    score.fp += 1;
                    rep.errors.push((n + 1, "FP", t, snippet(s, e)));
                }
                _ => {
                    score.r#fn += 1;
                    rep.errors.push((n + 1, "FN", t, snippet(s, e)));
                }
            }
        }
        rep.documents += 1;
    }
    for s in rep.per_type.values() {
        rep.micro.tp += s.tp;
        rep.micro.fp += s.fp;
        rep.micro.r#fn += s.r#fn;
    }
    Ok(rep)
}

impl Report {
    /// A fixed-width table for terminals and test logs.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<16} {:>5} {:>5} {:>5} {:>9} {:>7} {:>6}\n",
            "type", "tp", "fp", "fn", "precision", "recall", "f1"
        );
        let row = |name: &str, s: &Score| {
            format!(
                "{:<16} {:>5} {:>5} {:>5} {:>9.3} {:>7.3} {:>6.3}\n",
                name,
                s.tp,
                s.fp,
                s.r#fn,
                s.precision(),
                s.recall(),
                s.f1()
            )
        };
        for (t, s) in &self.per_type {
            out.push_str(&row(t.as_str(), s));
        }
        out.push_str(&row("micro", &self.micro));
        out
    }
}
