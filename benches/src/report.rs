//! What a run measured, and its renderings: the markdown table printed and written with
//! `--markdown`, JSON lines (`--json`) and an SVG bar chart (`--plot`).
use ember::prelude::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// What the device did for one case (simulated or real GPU runs): the difference of
/// [`ember_gpu::Gpu::trace`] across the warm-up run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceCost {
    /// Kernel launches.
    pub launches: u64,
    /// Host synchronisations.
    pub syncs: u64,
    /// Bytes copied host to device.
    pub htod_bytes: u64,
    /// Bytes copied device to host.
    pub dtoh_bytes: u64,
}

/// One engine on one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `ember` or `polars`.
    pub engine: String,
    /// Where it ran: `cpu`, `sim`, `cuda:0`.
    pub device: String,
    /// `Q1`…`Q22`, or the operation's name.
    pub query: String,
    /// Median seconds of the timed repetitions.
    pub median_s: f64,
    /// Fastest repetition.
    pub min_s: f64,
    /// Rows of the answer.
    pub rows: usize,
    /// Whether the engines' answers agreed (`None` with one engine).
    pub ok: Option<bool>,
    /// What differed, when they did not.
    pub diff: Option<String>,
    /// Most bytes allocated at once during the warm-up run beyond what was allocated before it:
    /// device memory for a GPU run, host memory otherwise.
    pub peak_bytes: u64,
    /// The device's launches, synchronisations and copies (GPU and simulated runs).
    pub cost: Option<DeviceCost>,
    /// Bytes the case reads (scans), for GB/s on a GPU.
    pub scanned_bytes: Option<u64>,
}

/// A run: where, what, and its records.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `TPC-H` or `operations`.
    pub suite: String,
    /// The machine (cores, CPU model; the GPU when one ran).
    pub machine: String,
    /// ember's device: `cpu`, `sim`, `cuda:0`.
    pub device: String,
    /// Scale factor.
    pub sf: f64,
    /// `memory`, `parquet` or `csv`.
    pub source: String,
    /// Timed repetitions after one warm-up.
    pub reps: usize,
    /// Engines in the order they are shown.
    pub engines: Vec<String>,
    /// `engine version` of each engine.
    pub versions: Vec<String>,
    /// How the answers were compared (printed with the table).
    pub rule: String,
    /// Seconds each engine took to load the tables (`source` other than memory).
    pub load_s: Vec<(String, f64)>,
    /// Every measurement.
    pub records: Vec<Record>,
}

impl Report {
    fn record(&self, engine: &str, query: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.engine == engine && r.query == query)
    }

    /// The cases in the order they ran.
    pub fn queries(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.records {
            if !out.contains(&r.query) {
                out.push(r.query.clone());
            }
        }
        out
    }

    /// Marks the records from index `first` on (one case, every engine) with the outcome of the
    /// answer check (`compared`: more than one engine ran; `diff`: what differed) and prints the
    /// case's progress line on stderr.
    pub fn settle(&mut self, first: usize, case: &str, compared: bool, diff: Option<String>) {
        if compared {
            for r in &mut self.records[first..] {
                r.ok = Some(diff.is_none());
                r.diff = diff.clone();
            }
        }
        let times: Vec<String> =
            self.records[first..].iter().map(|r| format!("{} {:.4} s", r.engine, r.median_s)).collect();
        let verdict = match (&diff, compared) {
            (Some(d), _) => format!("DIFFERENT: {d}"),
            (None, true) => "same answer".into(),
            (None, false) => String::new(),
        };
        eprintln!("{case}: {} {verdict}", times.join(", "));
    }

    /// Whether every compared answer agreed.
    pub fn all_ok(&self) -> bool {
        self.records.iter().all(|r| r.ok != Some(false))
    }

    fn simulated(&self) -> bool {
        self.device == "sim"
    }

    fn gpu(&self) -> bool {
        self.device.starts_with("cuda")
    }

    /// Geometric mean of `engine`'s medians over the cases every engine ran.
    pub fn geomean(&self, engine: &str) -> Option<f64> {
        let qs: Vec<String> =
            self.queries().into_iter().filter(|q| self.engines.iter().all(|e| self.record(e, q).is_some())).collect();
        let logs: Vec<f64> = qs.iter().filter_map(|q| self.record(engine, q)).map(|r| r.median_s.ln()).collect();
        (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
    }

    /// The report as markdown: a header naming the machine, versions, data and the answer rule,
    /// then one table row per case and the geometric means.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} sf={} ({} tables), ember on {}; {}; median of {} runs after a warm-up\n",
            self.suite,
            self.sf,
            self.source,
            self.device,
            self.versions.join(", "),
            self.reps
        );
        let _ = writeln!(s, "machine: {}\n", self.machine);
        if self.engines.len() > 1 {
            let _ = writeln!(s, "answers checked: {}\n", self.rule);
        }
        for (e, secs) in &self.load_s {
            let _ = writeln!(s, "load ({e}, {} → memory): {secs:.3} s  ", self.source);
        }
        if !self.load_s.is_empty() {
            s.push('\n');
        }
        // One ratio column per baseline, when ember is shown first.
        let baselines: &[String] = match self.engines.split_first() {
            Some((first, rest)) if first == "ember" => rest,
            _ => &[],
        };
        let mut head = vec!["case".to_string()];
        for e in &self.engines {
            head.push(if e == "ember" && self.simulated() { "ember (sim) s*".into() } else { format!("{e} s") });
        }
        head.extend(baselines.iter().map(|b| format!("ember / {b}")));
        head.push("rows".into());
        if self.engines.len() > 1 {
            head.push("same answer".into());
        }
        for e in &self.engines {
            head.push(format!("{e} peak MiB"));
        }
        if self.simulated() || self.gpu() {
            head.extend(["launches", "syncs", "H→D MiB", "D→H KiB"].map(String::from));
        }
        if self.gpu() {
            head.push("GB/s".into());
        }
        let _ = writeln!(s, "| {} |", head.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
        for q in self.queries() {
            let recs: Vec<Option<&Record>> = self.engines.iter().map(|e| self.record(e, &q)).collect();
            let mut row = vec![q.clone()];
            row.extend(recs.iter().map(|r| r.map_or("—".into(), |r| format!("{:.4}", r.median_s))));
            for b in baselines {
                row.push(match (self.record("ember", &q), self.record(b, &q)) {
                    (Some(e), Some(p)) if !self.simulated() => format!("{:.2}", e.median_s / p.median_s),
                    _ => "—".into(),
                });
            }
            let first = recs.iter().flatten().next();
            row.push(first.map_or("—".into(), |r| r.rows.to_string()));
            if self.engines.len() > 1 {
                row.push(match first.and_then(|r| r.ok) {
                    Some(true) => "yes".into(),
                    Some(false) => format!("**NO**: {}", first.and_then(|r| r.diff.clone()).unwrap_or_default()),
                    None => "—".into(),
                });
            }
            row.extend(recs.iter().map(|r| match r {
                // Its C++ allocations bypass the counting allocator: what it counts is not duckdb's peak.
                Some(r) if r.engine != "duckdb" => format!("{:.1}", r.peak_bytes as f64 / 1048576.0),
                _ => "—".into(),
            }));
            if self.simulated() || self.gpu() {
                let c = self.record("ember", &q).and_then(|r| r.cost).unwrap_or_default();
                row.push(c.launches.to_string());
                row.push(c.syncs.to_string());
                row.push(format!("{:.1}", c.htod_bytes as f64 / 1048576.0));
                row.push(format!("{:.1}", c.dtoh_bytes as f64 / 1024.0));
            }
            if self.gpu() {
                let r = self.record("ember", &q);
                row.push(match r.and_then(|r| r.scanned_bytes.map(|b| b as f64 / r.median_s / 1e9)) {
                    Some(g) => format!("{g:.0}"),
                    None => "—".into(),
                });
            }
            let _ = writeln!(s, "| {} |", row.join(" | "));
        }
        let means: Vec<Option<f64>> = self.engines.iter().map(|e| self.geomean(e)).collect();
        if means.iter().all(Option::is_some) && self.queries().len() > 1 {
            let mut row = vec!["geometric mean".to_string()];
            row.extend(means.iter().map(|m| format!("{:.4}", m.unwrap_or_default())));
            for b in baselines {
                row.push(match (self.geomean("ember"), self.geomean(b)) {
                    (Some(e), Some(p)) if !self.simulated() => format!("**{:.2}**", e / p),
                    _ => "—".into(),
                });
            }
            let ok = self.records.iter().filter(|r| r.engine == self.engines[0] && r.ok == Some(true)).count();
            row.push(String::new());
            if self.engines.len() > 1 {
                row.push(format!("{ok}/{}", self.queries().len()));
            }
            while row.len() < head.len() {
                row.push(String::new());
            }
            let _ = writeln!(s, "| {} |", row.join(" | "));
        }
        if self.engines.iter().any(|e| e == "duckdb") {
            let _ = writeln!(
                s,
                "\nduckdb's peak memory is not shown: it allocates in C++, outside the allocator that counts ember's \
                 and polars' bytes."
            );
        }
        if self.simulated() {
            let _ = writeln!(
                s,
                "\n\\* the simulated device runs the CUDA kernels on the CPU, one fiber per thread: its times say \
                 nothing about a GPU. Its launches, synchronisations and copies are what a GPU would do."
            );
        }
        s
    }

    /// One JSON object per record:
    /// `{"engine","device","query","median_s","min_s","rows","ok","peak_bytes",…}`.
    pub fn json_lines(&self) -> String {
        let mut s = String::new();
        for r in &self.records {
            let mut v = serde_json::json!({
                "engine": r.engine, "device": r.device, "query": r.query,
                "median_s": r.median_s, "min_s": r.min_s, "rows": r.rows, "ok": r.ok,
                "peak_bytes": (r.engine != "duckdb").then_some(r.peak_bytes), "suite": self.suite, "sf": self.sf, "source": self.source,
                "reps": self.reps,
            });
            if let Some(c) = r.cost {
                v["launches"] = c.launches.into();
                v["syncs"] = c.syncs.into();
                v["htod_bytes"] = c.htod_bytes.into();
                v["dtoh_bytes"] = c.dtoh_bytes.into();
            }
            if let Some(d) = &r.diff {
                v["diff"] = d.clone().into();
            }
            let _ = writeln!(s, "{v}");
        }
        s
    }

    /// A grouped bar chart: for each case, one bar per engine, seconds on a log scale.
    ///
    /// Written by hand rather than with `plotters`: its text layout needs a font backend
    /// (system fonts or a bundled TTF), and the chart is a few dozen rectangles and labels.
    pub fn svg(&self) -> String {
        const COLORS: [&str; 4] = ["#d9480f", "#1c7ed6", "#2b8a3e", "#7048e8"];
        let qs = self.queries();
        // Case names are written at 45° below the bars: leave room for the longest.
        let longest = qs.iter().map(|q| q.chars().count()).max().unwrap_or(3) as f64 * 4.6;
        let (left, top, bottom, plot_h) = (longest.max(70.0), 50.0, longest + 24.0, 300.0);
        let group_w = 14.0 * self.engines.len() as f64 + 12.0;
        let width = left + group_w * qs.len() as f64 + 20.0;
        let height = top + plot_h + bottom;
        let times: Vec<f64> = self.records.iter().map(|r| r.median_s).filter(|t| *t > 0.0).collect();
        let lo = times.iter().copied().fold(f64::INFINITY, f64::min).max(1e-6).log10().floor();
        let hi = times.iter().copied().fold(0.0, f64::max).max(1e-6).log10().ceil().max(lo + 1.0);
        let y = |t: f64| top + plot_h * (1.0 - (t.max(1e-9).log10() - lo) / (hi - lo));
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let title = format!(
            "{} sf={} ({}), ember on {}: median seconds (log scale)",
            self.suite, self.sf, self.source, self.device
        );
        let _ = writeln!(s, r#"<text x="{left}" y="20" font-size="13">{}</text>"#, xml(&title));
        for p in lo as i32..=hi as i32 {
            let yy = y(10f64.powi(p));
            let _ = writeln!(
                s,
                r##"<line x1="{left}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                width - 20.0,
                left - 6.0,
                yy + 4.0,
                format_seconds(10f64.powi(p))
            );
        }
        for (i, q) in qs.iter().enumerate() {
            let x0 = left + group_w * i as f64 + 6.0;
            for (j, e) in self.engines.iter().enumerate() {
                if let Some(r) = self.record(e, q) {
                    let yy = y(r.median_s);
                    let _ = writeln!(
                        s,
                        r#"<rect x="{:.1}" y="{yy:.1}" width="12" height="{:.1}" fill="{}"><title>{} {}: {:.4} s</title></rect>"#,
                        x0 + 14.0 * j as f64,
                        (top + plot_h - yy).max(0.0),
                        COLORS[j % COLORS.len()],
                        xml(e),
                        xml(q),
                        r.median_s
                    );
                }
            }
            let cx = x0 + 7.0 * self.engines.len() as f64;
            let _ = writeln!(
                s,
                r#"<text x="{cx:.1}" y="{:.1}" text-anchor="end" transform="rotate(-45 {cx:.1} {:.1})">{}</text>"#,
                top + plot_h + 14.0,
                top + plot_h + 14.0,
                xml(q)
            );
        }
        for (j, e) in self.engines.iter().enumerate() {
            let x = left + 110.0 * j as f64;
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="28" width="12" height="12" fill="{}"/><text x="{:.0}" y="38">{}</text>"#,
                COLORS[j % COLORS.len()],
                x + 16.0,
                xml(e)
            );
        }
        s.push_str("</svg>\n");
        s
    }

    /// Writes the files asked for (each optional).
    pub fn write(&self, json: Option<&Path>, markdown: Option<&Path>, plot: Option<&Path>) -> Result<()> {
        let put = |p: &Path, text: String, append: bool| -> Result<()> {
            use std::io::Write;
            let io = |e| Error::Io { path: p.display().to_string(), source: e };
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(p)
                .map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)
        };
        if let Some(p) = json {
            put(p, self.json_lines(), true)?;
        }
        if let Some(p) = markdown {
            let mut md = self.markdown();
            if let Some(svg) = plot {
                let _ = write!(md, "\n![{} times]({})\n", self.suite, svg.display());
            }
            put(p, md, false)?;
        }
        if let Some(p) = plot {
            put(p, self.svg(), false)?;
        }
        Ok(())
    }
}

fn format_seconds(t: f64) -> String {
    if t >= 1.0 {
        format!("{t:.0} s")
    } else if t >= 1e-3 {
        format!("{:.0} ms", t * 1e3)
    } else {
        format!("{:.0} µs", t * 1e6)
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(engine: &str, q: &str, t: f64, ok: bool) -> Record {
        Record {
            engine: engine.into(),
            device: "cpu".into(),
            query: q.into(),
            median_s: t,
            min_s: t,
            rows: 4,
            ok: Some(ok),
            diff: (!ok).then(|| "row 0".into()),
            peak_bytes: 1 << 20,
            cost: None,
            scanned_bytes: None,
        }
    }

    fn report() -> Report {
        Report {
            suite: "TPC-H".into(),
            device: "cpu".into(),
            sf: 1.0,
            source: "memory".into(),
            reps: 3,
            engines: vec!["ember".into(), "polars".into()],
            records: vec![
                rec("ember", "Q1", 0.2, true),
                rec("polars", "Q1", 0.1, true),
                rec("ember", "Q2", 0.05, true),
                rec("polars", "Q2", 0.1, true),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn geomean_and_ratio() {
        let r = report();
        assert!((r.geomean("ember").unwrap() - 0.1).abs() < 1e-12);
        assert!((r.geomean("polars").unwrap() - 0.1).abs() < 1e-12);
        let md = r.markdown();
        assert!(md.contains("| Q1 | 0.2000 | 0.1000 | 2.00 | 4 | yes | 1.0 | 1.0 |"), "{md}");
        assert!(md.contains("| geometric mean | 0.1000 | 0.1000 | **1.00** |  | 2/2 |"), "{md}");
        assert!(r.all_ok());
    }

    #[test]
    fn each_baseline_gets_a_ratio_and_duckdb_no_peak() {
        let mut r = report();
        r.engines.push("duckdb".into());
        r.records.extend([rec("duckdb", "Q1", 0.4, true), rec("duckdb", "Q2", 0.025, true)]);
        let md = r.markdown();
        assert!(md.contains("| ember / polars | ember / duckdb |"), "{md}");
        assert!(md.contains("| Q1 | 0.2000 | 0.1000 | 0.4000 | 2.00 | 0.50 | 4 | yes | 1.0 | 1.0 | — |"), "{md}");
        assert!(md.contains("| geometric mean | 0.1000 | 0.1000 | 0.1000 | **1.00** | **1.00** |"), "{md}");
        assert!(md.contains("duckdb's peak memory is not shown"));
        let json: serde_json::Value = serde_json::from_str(r.json_lines().lines().last().unwrap()).unwrap();
        assert_eq!((json["engine"].as_str(), json["peak_bytes"].is_null()), (Some("duckdb"), true));
    }

    #[test]
    fn a_mismatch_shows() {
        let mut r = report();
        r.records[0] = rec("ember", "Q1", 0.2, false);
        assert!(!r.all_ok());
        assert!(r.markdown().contains("**NO**: row 0"));
    }

    #[test]
    fn json_and_svg() {
        let r = report();
        let lines: Vec<serde_json::Value> = r.json_lines().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1]["engine"], "polars");
        assert_eq!(lines[1]["median_s"], 0.1);
        assert_eq!(lines[0]["ok"], true);
        let svg = r.svg();
        assert_eq!(svg.matches("<rect x=").count(), 4 + 2, "a bar per record and a legend swatch per engine");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
