//! The module graph stays a ladder: no file imports, directly or through others, a file that
//! imports it back, and no lower layer of `src/` imports a higher one
//! (config/cluster → journal → deadman/health → scenarios → engine → observe/tui → cli).
//!
//! Read from the source text: every `crate::`, `super::` and `self::` path, every `use` of a
//! child module, and every `child::item` a `mod.rs` names, resolved to the file that defines
//! the longest matching module path. Comments and `#[cfg(test)] mod tests` blocks are left
//! out: tests may look anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

struct Graph {
    files: BTreeMap<Module, PathBuf>,
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_of(root: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Module = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The source without comments and without `#[cfg(test)] mod … { … }` blocks.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines.peek().is_some_and(|next| {
                let t = next.trim_start();
                t.starts_with("mod ") || t.starts_with("pub(crate) mod ")
            })
        {
            let mut depth = 0i32;
            for inner in lines.by_ref() {
                depth += inner.matches('{').count() as i32 - inner.matches('}').count() as i32;
                if depth <= 0 && inner.contains('}') {
                    break;
                }
            }
            continue;
        }
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every `a::b::c` path in `code` (segments only, braces not expanded), with what precedes it.
fn paths(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            let mut segments = Vec::new();
            let mut j = i;
            loop {
                let start = j;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                segments.push(chars[start..j].iter().collect::<String>());
                if j + 2 < chars.len() && chars[j] == ':' && chars[j + 1] == ':' {
                    if chars[j + 2] == '{' {
                        // `a::{b, c::d}`: each item continues the prefix.
                        let close =
                            chars[j + 2..].iter().position(|&c| c == '}').map(|p| p + j + 2);
                        if let Some(close) = close {
                            let inner: String = chars[j + 3..close].iter().collect();
                            for item in inner.split(',') {
                                let item = item.split(" as ").next().unwrap_or("").trim();
                                let item = item.trim_start_matches('{');
                                if item.is_empty() || item == "self" {
                                    continue;
                                }
                                let mut p = segments.clone();
                                p.extend(item.split("::").map(|s| s.trim().to_string()));
                                found.push(p);
                            }
                            j = close;
                        }
                        break;
                    }
                    if is_ident(chars[j + 2]) {
                        j += 2;
                        continue;
                    }
                }
                break;
            }
            if segments.len() > 1 {
                found.push(segments);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

fn graph(root: &Path) -> Graph {
    let mut list = Vec::new();
    rust_files(root, &mut list);
    let files: BTreeMap<Module, PathBuf> =
        list.iter().map(|f| (module_of(root, f), f.clone())).collect();
    let resolve = |path: &[String]| -> Option<Module> {
        (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|m| files.contains_key(m))
    };
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, file) in &files {
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for path in paths(&code) {
            let absolute: Option<Vec<String>> = match path[0].as_str() {
                "crate" => Some(path[1..].to_vec()),
                "self" => Some(module.iter().cloned().chain(path[1..].iter().cloned()).collect()),
                "super" => {
                    let mut up = module.clone();
                    up.pop();
                    let mut rest = &path[1..];
                    while rest.first().map(String::as_str) == Some("super") {
                        up.pop();
                        rest = &rest[1..];
                    }
                    Some(up.into_iter().chain(rest.iter().cloned()).collect())
                }
                // A child module named from its parent (`use child::x`, `child::f()`).
                first => {
                    let mut child = module.clone();
                    child.push(first.to_string());
                    files
                        .contains_key(&child)
                        .then(|| module.iter().cloned().chain(path.iter().cloned()).collect())
                }
            };
            if let Some(target) = absolute.as_deref().and_then(resolve)
                && &target != module
                && !target.is_empty()
            {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    Graph { files, edges }
}

/// Strongly connected groups of more than one file (Tarjan).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        g: &'g Graph,
        index: BTreeMap<&'g Module, usize>,
        low: BTreeMap<&'g Module, usize>,
        stack: Vec<&'g Module>,
        on: BTreeSet<&'g Module>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Module) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        let empty = BTreeSet::new();
        for w in s.g.edges.get(v).unwrap_or(&empty) {
            let Some((w, _)) = s.g.files.get_key_value(w) else { continue };
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                group.push(if w.is_empty() { "lib".into() } else { w.join("/") });
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.found.push(group);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in g.files.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

fn root(crate_dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_dir)
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    for dir in ["src", "crates/sandbox/src", "crates/testbed/src"] {
        let found = cycles(&graph(&root(dir)));
        assert!(found.is_empty(), "import cycles in {dir}: {found:#?}");
    }
}

#[test]
fn no_layer_of_src_imports_a_higher_one() {
    let layer = |top: &str| match top {
        "config" | "cluster" | "refs" | "out" | "exit" | "helper" | "scenario_status" => Some(0),
        "journal" => Some(1),
        "deadman" | "health" => Some(2),
        "scenarios" => Some(3),
        "engine" => Some(4),
        "observe" | "tui" => Some(5),
        "cli" => Some(6),
        _ => None,
    };
    let g = graph(&root("src"));
    let mut against = Vec::new();
    for (from, targets) in &g.edges {
        for to in targets {
            let (Some(a), Some(b)) =
                (from.first().and_then(|t| layer(t)), to.first().and_then(|t| layer(t)))
            else {
                continue;
            };
            if b > a {
                against.push(format!("{} -> {}", from.join("/"), to.join("/")));
            }
        }
    }
    assert!(against.is_empty(), "imports against the layer order: {against:#?}");
}

/// The checker itself finds what it is for: a parent that re-exports a child which names an
/// item of the parent is a cycle.
#[test]
fn the_checker_sees_a_parent_child_cycle() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("lib.rs"), "mod a;\n").unwrap();
    std::fs::write(dir.path().join("a/mod.rs"), "mod b;\npub use b::B;\npub struct A;\n").unwrap();
    std::fs::write(dir.path().join("a/b.rs"), "use super::A;\npub struct B(A);\n").unwrap();
    let found = cycles(&graph(dir.path()));
    assert_eq!(found, vec![vec!["a".to_string(), "a/b".to_string()]]);
    // With the item moved to its own file, the cycle is gone.
    std::fs::write(dir.path().join("a/mod.rs"), "mod b;\nmod item;\npub use b::B;\n").unwrap();
    std::fs::write(dir.path().join("a/item.rs"), "pub struct A;\n").unwrap();
    std::fs::write(dir.path().join("a/b.rs"), "use super::item::A;\npub struct B(A);\n").unwrap();
    assert!(cycles(&graph(dir.path())).is_empty());
}
