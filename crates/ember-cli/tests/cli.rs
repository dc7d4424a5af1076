//! The `ember` command end to end: head, schema, convert (CSV -> Parquet -> CSV keeps every
//! value), and a read error that exits 1 with the typed message, never a panic.
use std::process::Command;

fn ember(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ember")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn head_schema_convert_and_errors() {
    let dir = std::env::temp_dir().join(format!("ember-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("t.csv");
    std::fs::write(&csv, "id,name,when\n1,\"a, b\",2024-01-02\n2,,1999-12-31\n3,c,2000-02-29\n").unwrap();
    let p = |f: &str| dir.join(f).display().to_string();

    let (ok, out, err) = ember(&["head", &p("t.csv"), "-n", "2"]);
    assert!(ok, "{err}");
    assert!(out.contains("| a, b |") && out.contains("1999-12-31") && !out.contains("2000-02-29"), "{out}");

    let (ok, out, _) = ember(&["schema", &p("t.csv")]);
    assert!(ok);
    assert_eq!(out, "id: int64\nname: utf8\nwhen: date32\n");

    let (ok, _, err) = ember(&["convert", &p("t.csv"), &p("t.parquet")]);
    assert!(ok, "{err}");
    let (ok, _, err) = ember(&["convert", &p("t.parquet"), &p("back.csv"), "--device", "cpu"]);
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("back.csv")).unwrap(),
        "id,name,when\n1,\"a, b\",2024-01-02\n2,,1999-12-31\n3,c,2000-02-29\n"
    );
    let (ok, out, _) = ember(&["schema", &p("t.parquet")]);
    assert!(ok);
    assert_eq!(out, "id: int64\nname: utf8\nwhen: date32\n");

    std::fs::write(dir.join("bad.parquet"), "not parquet at all").unwrap();
    let (ok, _, err) = ember(&["head", &p("bad.parquet")]);
    assert!(!ok && err.starts_with("ember: ") && err.contains("not a Parquet file"), "{err}");
    let (ok, _, err) = ember(&["convert", &p("t.csv"), &p("x.unknown")]);
    assert!(!ok && err.contains("unknown file format"), "{err}");
    let (ok, _, err) = ember(&["frobnicate"]);
    assert!(!ok && err.contains("usage:"), "{err}");
    assert!(!err.contains("panicked"));
    std::fs::remove_dir_all(&dir).unwrap();
}
