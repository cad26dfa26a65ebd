//! The layered layout holds: `verify/` <- `config/` <- `serve/` <- `ops/` <- `cmd/`, no file
//! imports from a layer above its own, and no import circle between files (outside unit tests).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const LAYERS: [&str; 5] = ["verify", "config", "serve", "ops", "cmd"];

type File = (usize, String);

/// Every `crate::<layer>::<name>` a file's non-test code names, resolved to a file: a module
/// of that layer, or the layer's facade (`mod.rs` re-exports) mapped to the file it re-exports.
fn arrows() -> BTreeMap<File, BTreeSet<File>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules: Vec<BTreeSet<String>> = Vec::new();
    for layer in LAYERS {
        let names = std::fs::read_dir(src.join(layer))
            .expect("layer folder")
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".rs")?.to_owned();
                (stem != "mod").then_some(stem)
            })
            .collect();
        modules.push(names);
    }
    let facade = |layer: &str, item: &str| -> String {
        match (layer, item) {
            ("config", "compile" | "load") => "compile",
            ("config", "Route" | "Shared" | "Snapshot") => "snapshot",
            ("config", _) => "yaml",
            ("verify", "Reason") => "reason",
            ("verify", _) => "check",
            _ => "?",
        }
        .to_owned()
    };
    let mut out: BTreeMap<File, BTreeSet<File>> = BTreeMap::new();
    for (li, layer) in LAYERS.iter().enumerate() {
        for module in &modules[li] {
            let text = std::fs::read_to_string(src.join(layer).join(format!("{module}.rs")))
                .expect("source file");
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let from = (li, module.clone());
            for (at, _) in code.match_indices("crate::") {
                let after = &code[at + 7..];
                let Some((target, rest)) = after.split_once("::") else {
                    continue;
                };
                let Some(ti) = LAYERS.iter().position(|l| *l == target) else {
                    continue;
                };
                for item in items(rest) {
                    let file = if modules[ti].contains(&item) {
                        item
                    } else {
                        facade(target, &item)
                    };
                    let to = (ti, file);
                    if to != from {
                        out.entry(from.clone()).or_default().insert(to);
                    }
                }
            }
        }
    }
    out
}

/// The first segment of each path a `use` names after `crate::<layer>::`: `mac` in
/// `mac::PreparedMac`, and `a`, `b` in `{a, b::C}`.
fn items(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    match rest.strip_prefix('{') {
        Some(group) => {
            let end = group.find('}').unwrap_or(group.len());
            group[..end]
                .split(',')
                .map(ident)
                .filter(|i| !i.is_empty() && i != "self")
                .collect()
        }
        None => vec![ident(rest)],
    }
}

fn name(f: &File) -> String {
    format!("{}/{}", LAYERS[f.0], f.1)
}

#[test]
fn no_file_imports_from_a_layer_above_its_own() {
    let arrows = arrows();
    assert!(
        arrows.len() > 20,
        "the scan found too few files: {}",
        arrows.len()
    );
    let up: Vec<String> = arrows
        .iter()
        .flat_map(|(from, tos)| {
            tos.iter()
                .filter(|to| to.0 > from.0)
                .map(move |to| format!("{} -> {}", name(from), name(to)))
        })
        .collect();
    assert!(up.is_empty(), "arrows up a layer: {up:#?}");
}

#[test]
fn no_two_files_import_each_other_directly_or_through_others() {
    let arrows = arrows();
    for start in arrows.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&File> = arrows[start].iter().collect();
        while let Some(next) = todo.pop() {
            assert!(
                next != start,
                "an import circle runs through {}",
                name(start)
            );
            if seen.insert(next.clone()) {
                todo.extend(arrows.get(next).into_iter().flatten());
            }
        }
    }
}
