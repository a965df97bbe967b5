//! Recognizer quality on the hand-written corpora (tests/corpus/). Print the
//! tables with: `cargo test -p detente-gate --test quality -- --nocapture`

use detente_gate::quality::{evaluate, Report, DEV_CORPUS, HOLDOUT_CORPUS};

fn show(name: &str, rep: &Report) {
    println!("{name}: {} documents\n{}", rep.documents, rep.table());
    for (line, kind, t, text) in &rep.errors {
        println!("  line {line}: {kind} {t} {text:?}");
    }
}

#[test]
fn holdout_quality_floor() {
    let rep = evaluate(HOLDOUT_CORPUS).expect("corpus parses");
    show("holdout", &rep);
    assert!(rep.documents >= 25);
    assert!(
        rep.micro.f1() >= 0.97,
        "micro-F1 {:.3} below 0.97",
        rep.micro.f1()
    );
}

#[test]
fn dev_quality_floor() {
    let rep = evaluate(DEV_CORPUS).expect("corpus parses");
    show("dev", &rep);
    assert!(rep.documents >= 100);
    assert!(
        rep.micro.f1() >= 0.95,
        "micro-F1 {:.3} below 0.95",
        rep.micro.f1()
    );
    for (t, s) in &rep.per_type {
        assert!(s.f1() >= 0.80, "{t}: F1 {:.3} below 0.80", s.f1());
    }
}
