//! Checks on the repository itself, run by `cargo test -p xtask`. Each failure names the file,
//! the line and the fix.
//!
//! Every check also asserts that it found what it checks (a least number of files, and known
//! files among them), so that a moved folder makes it fail instead of passing on nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The folders that hold the workspace's crates: components and the harness (plus `xtask/`).
const CRATE_FOLDERS: [&str; 2] = ["crates", "integration"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target" || n == "snapshots") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file under `crates/`, `integration/` and `xtask/`.
fn sources() -> Vec<PathBuf> {
    let root = crate::tools::project_root();
    let mut files = Vec::new();
    for folder in CRATE_FOLDERS {
        rust_files(&root.join(folder), &mut files);
    }
    rust_files(&root.join("xtask"), &mut files);
    files.sort();
    files
}

/// The directory of every crate of the workspace: `crates/*`, `integration/*`, `xtask`.
fn crate_dirs() -> Vec<PathBuf> {
    let root = crate::tools::project_root();
    let mut dirs = vec![root.join("xtask")];
    for folder in CRATE_FOLDERS {
        let Ok(entries) = fs::read_dir(root.join(folder)) else { continue };
        dirs.extend(entries.flatten().map(|e| e.path()).filter(|p| p.join("Cargo.toml").is_file()));
    }
    dirs.sort();
    dirs
}

fn rel(path: &Path) -> String {
    path.strip_prefix(crate::tools::project_root()).unwrap_or(path).display().to_string()
}

/// Fails unless `found` (relative paths) holds at least `at_least` entries and every one of
/// `known`: a check that looks at nothing must not pass.
fn assert_found(what: &str, found: &[String], at_least: usize, known: &[&str]) {
    assert!(
        found.len() >= at_least,
        "found only {} {what} (expected at least {at_least}); did a folder move? update xtask/src/tidy.rs",
        found.len()
    );
    for k in known {
        assert!(
            found.iter().any(|f| f == k),
            "{k} is not among the {what} checked; did it move? update xtask/src/tidy.rs"
        );
    }
}

fn rels(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| rel(p)).collect()
}

/// Known files every source-wide check must see, one per folder.
const KNOWN_SOURCES: &[&str] = &[
    "crates/sigv4/src/lib.rs",
    "crates/proxy/src/server.rs",
    "integration/env/src/lib.rs",
    "xtask/src/tidy.rs",
];

// ---------------------------------------------------------------------------------------
// Reading Rust text: comments (and optionally string and char literals) blanked out, with
// every newline kept so that line numbers stay right.

/// `text` with comments (`//…`, `/* … */`, doc comments) replaced by spaces; with
/// `strings`, the contents of string and char literals too (the quotes stay).
fn strip(text: &str, strings: bool) -> String {
    let c: Vec<char> = text.chars().collect();
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Pushes c[from..to] as is, or blanked inside when `strings`.
    let literal = |out: &mut String, from: usize, to: usize, open: usize, close: usize| {
        for (k, &ch) in c.iter().enumerate().take(to).skip(from) {
            let delimiter = k < from + open || k + close >= to;
            out.push(if strings && !delimiter { blank(ch) } else { ch });
        }
    };
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
            continue;
        }
        if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
            continue;
        }
        let after_ident = i > 0 && ident(c[i - 1]);
        if !after_ident && (c[i] == 'r' || (c[i] == 'b' && next == Some('r'))) {
            let mut j = i + if c[i] == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) == Some(&'"') {
                let mut k = j + 1;
                while k < c.len() {
                    if c[k] == '"' && (0..hashes).all(|h| c.get(k + 1 + h) == Some(&'#')) {
                        k += 1 + hashes;
                        break;
                    }
                    k += 1;
                }
                let k = k.min(c.len());
                literal(&mut out, i, k, j + 1 - i, 1 + hashes);
                i = k;
                continue;
            }
        }
        if c[i] == '"' {
            let mut k = i + 1;
            while k < c.len() {
                if c[k] == '\\' {
                    k += 2;
                    continue;
                }
                if c[k] == '"' {
                    k += 1;
                    break;
                }
                k += 1;
            }
            let k = k.min(c.len());
            literal(&mut out, i, k, 1, 1);
            i = k;
            continue;
        }
        if c[i] == '\'' {
            // A char literal ('x', '\n', '\u{1F}'); otherwise a lifetime, kept as is.
            let end = if next == Some('\\') {
                (i + 2..c.len()).find(|&k| c[k] == '\'').map(|k| k + 1)
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            if let Some(end) = end {
                literal(&mut out, i, end, 1, 1);
                i = end;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// `text` (already stripped) without its `#[cfg(test)] mod … { … }` blocks (blanked, lines kept).
fn without_test_modules(text: &str) -> String {
    let mut out: Vec<char> = text.chars().collect();
    let marker: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + marker.len() <= out.len() {
        if out[i..i + marker.len()] != marker[..] {
            i += 1;
            continue;
        }
        // `#[cfg(test)]`, then `mod name {` (other attributes may sit in between).
        let rest: String = out[i + marker.len()..].iter().take(200).collect();
        let head = rest.trim_start();
        let Some(after_mod) = head.strip_prefix("mod ").or_else(|| head.strip_prefix("pub mod ")) else {
            i += 1;
            continue;
        };
        let name_end =
            after_mod.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after_mod.len());
        if !after_mod[name_end..].trim_start().starts_with('{') {
            i += 1;
            continue;
        }
        let Some(open) = (i..out.len()).find(|&k| out[k] == '{') else { break };
        let mut depth = 0;
        let mut end = out.len();
        for (k, &ch) in out.iter().enumerate().skip(open) {
            if ch == '{' {
                depth += 1;
            } else if ch == '}' {
                depth -= 1;
                if depth == 0 {
                    end = k + 1;
                    break;
                }
            }
        }
        for ch in &mut out[i..end] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
        i = end;
    }
    out.into_iter().collect()
}

// ---------------------------------------------------------------------------------------
// Module graphs.

/// A token of Rust text, with its line (1-based).
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// One module of a crate: its path from the crate root (`[]` for the root) and its file.
#[derive(Clone, Debug)]
struct Module {
    path: Vec<String>,
    file: String,
    /// The names declared with `mod name;` in this file.
    children: BTreeSet<String>,
}

/// The modules of the crate rooted at `root` (a file under `src`), found by following
/// `mod name;` declarations; `read` gives a file's text by its path.
fn module_tree(root: &str, read: &dyn Fn(&str) -> Option<String>) -> Vec<Module> {
    let mut modules = Vec::new();
    let root_dir = match root.rsplit_once('/') {
        // `src/bin/foo.rs` keeps its submodules in `src/bin/foo/`; `src/lib.rs` in `src/`.
        Some((dir, file)) if dir.ends_with("/bin") && file != "main.rs" => {
            format!("{dir}/{}", file.trim_end_matches(".rs"))
        }
        Some((dir, _)) => dir.to_owned(),
        None => String::new(),
    };
    let mut queue = vec![(Vec::<String>::new(), root.to_owned(), root_dir)];
    while let Some((path, file, dir)) = queue.pop() {
        let Some(text) = read(&file) else { continue };
        let text = without_test_modules(&strip(&text, true));
        let toks = tokens(&text);
        let mut children = BTreeSet::new();
        for w in toks.windows(3) {
            if let [(Tok::Ident(m), _), (Tok::Ident(name), _), (Tok::Punct(';'), _)] = w {
                if m == "mod" {
                    children.insert(name.clone());
                }
            }
        }
        for name in &children {
            let flat = format!("{dir}/{name}.rs");
            let nested = format!("{dir}/{name}/mod.rs");
            let child_file = if read(&flat).is_some() { flat } else { nested };
            let mut child_path = path.clone();
            child_path.push(name.clone());
            queue.push((child_path, child_file, format!("{dir}/{name}")));
        }
        modules.push(Module { path, file, children });
    }
    modules.sort_by(|a, b| a.path.cmp(&b.path));
    modules
}

/// A path written in the text, with its line and whether it sits in a `pub use`.
struct Written {
    segments: Vec<String>,
    line: usize,
    in_pub_use: bool,
}

/// Every path of two or more segments in `toks` (`a::b`, `crate::x::y`), with `use` groups
/// expanded (`use crate::{a, b::{c, d}}` gives `crate::a`, `crate::b::c`, `crate::b::d`).
/// `mod name;` declarations are not paths.
fn written_paths(toks: &[(Tok, usize)]) -> Vec<Written> {
    let mut out = Vec::new();
    let mut in_pub_use = false;
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = &toks[i];
        match tok {
            Tok::Punct(';') => in_pub_use = false,
            Tok::Ident(kw) if kw == "use" => {
                // `pub use` or `pub(crate) use`: look back over the visibility.
                let mut j = i;
                if j > 0 && toks[j - 1].0 == Tok::Punct(')') {
                    while j > 0 && toks[j - 1].0 != Tok::Punct('(') {
                        j -= 1;
                    }
                    j = j.saturating_sub(1);
                }
                in_pub_use = j > 0 && toks[j - 1].0 == Tok::Ident("pub".into());
            }
            Tok::Ident(kw) if kw == "mod" => {
                i += 2;
                continue;
            }
            Tok::Ident(_) => {
                let starts = i == 0 || toks[i - 1].0 != Tok::PathSep;
                let followed = toks.get(i + 1).is_some_and(|t| t.0 == Tok::PathSep);
                if starts && followed {
                    let (paths, next) = path_tree(toks, i, vec![]);
                    for segments in paths {
                        out.push(Written { segments, line: *line, in_pub_use });
                    }
                    i = next;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Parses a path (and its `{…}` group, if any) starting at `toks[i]`, under `prefix`; the
/// paths it names and the index after it.
fn path_tree(toks: &[(Tok, usize)], mut i: usize, prefix: Vec<String>) -> (Vec<Vec<String>>, usize) {
    let mut segments = prefix;
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(name)) => {
                segments.push(name.clone());
                i += 1;
            }
            Some(Tok::Punct('{')) => {
                let mut all = Vec::new();
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.0) {
                        None => return (all, i),
                        Some(Tok::Punct('}')) => return (all, i + 1),
                        Some(Tok::Punct(',')) => i += 1,
                        Some(Tok::Ident(s)) if s == "self" => {
                            all.push(segments.clone());
                            i += 1;
                        }
                        Some(Tok::Ident(s)) if s == "as" => i += 2,
                        Some(Tok::Ident(_)) | Some(Tok::Punct('{')) => {
                            let (inner, next) = path_tree(toks, i, segments.clone());
                            all.extend(inner);
                            i = next;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            _ => return (vec![segments], i),
        }
        if toks.get(i).map(|t| &t.0) == Some(&Tok::PathSep) {
            i += 1;
        } else {
            return (vec![segments], i);
        }
    }
}

/// The module dependency graph of one crate: module file → (depended-on file → first line).
type Graph = BTreeMap<String, BTreeMap<String, usize>>;

/// `segs` as written in `module`, made absolute (from the crate root): `crate::…`, `self::…`,
/// `super::…` or a child module `b::…`; `None` for anything else (other crates, types).
fn absolute(module: &Module, segs: &[String]) -> Option<Vec<String>> {
    Some(match segs[0].as_str() {
        "crate" => segs[1..].to_vec(),
        "self" => module.path.iter().chain(&segs[1..]).cloned().collect(),
        "super" => {
            let ups = segs.iter().take_while(|s| *s == "super").count();
            let keep = module.path.len().saturating_sub(ups);
            module.path[..keep].iter().chain(&segs[ups..]).cloned().collect()
        }
        first if module.children.contains(first) => module.path.iter().chain(segs).cloned().collect(),
        _ => return None,
    })
}

/// The module an absolute path leads to: the deepest module it names, followed through that
/// module's `pub use` re-exports (`crate::Thing` re-exported from `crate::a` is `a`).
fn resolve<'m>(
    absolute: &[String],
    by_path: &BTreeMap<&[String], &'m Module>,
    reexports: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
    depth: usize,
) -> &'m Module {
    let (n, module) = (0..=absolute.len())
        .rev()
        .find_map(|n| by_path.get(&absolute[..n]).map(|m| (n, *m)))
        .expect("the crate root is a module");
    if let (Some(item), true) = (absolute.get(n), depth < 8) {
        if let Some(target) = reexports.get(&module.file).and_then(|r| r.get(item)) {
            let next: Vec<String> = target.iter().chain(&absolute[n + 1..]).cloned().collect();
            return resolve(&next, by_path, reexports, depth + 1);
        }
    }
    module
}

/// Edges between the modules of `modules`: A → B when A's code (comments and test modules
/// left out) names `crate::B…`, `self::B…`, `super::…` or a child module `B::…`. A path is
/// resolved to the deepest module it names, through re-exports; an item defined in the crate
/// root (`crate::Thing`) is the root. `mod` declarations are not edges, nor are a module's
/// `pub use` re-exports of its own submodules (the crate root's facade).
fn module_graph(modules: &[Module], read: &dyn Fn(&str) -> Option<String>) -> Graph {
    let by_path: BTreeMap<&[String], &Module> = modules.iter().map(|m| (m.path.as_slice(), m)).collect();
    let written: BTreeMap<&str, Vec<Written>> = modules
        .iter()
        .map(|m| {
            let text = read(&m.file).map(|t| without_test_modules(&strip(&t, true))).unwrap_or_default();
            (m.file.as_str(), written_paths(&tokens(&text)))
        })
        .collect();
    // Module file → re-exported name → the absolute path it stands for.
    let mut reexports: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for module in modules {
        for w in written[module.file.as_str()].iter().filter(|w| w.in_pub_use) {
            if let (Some(abs), Some(name)) = (absolute(module, &w.segments), w.segments.last()) {
                reexports.entry(module.file.clone()).or_default().insert(name.clone(), abs);
            }
        }
    }
    let mut graph = Graph::new();
    for module in modules {
        let edges = graph.entry(module.file.clone()).or_default();
        for w in &written[module.file.as_str()] {
            let Some(abs) = absolute(module, &w.segments) else { continue };
            let target = resolve(&abs, &by_path, &reexports, 0);
            let own_submodule =
                target.path.len() > module.path.len() && target.path.starts_with(&module.path);
            if target.file == module.file || (w.in_pub_use && own_submodule) {
                continue;
            }
            edges.entry(target.file.clone()).or_insert(w.line);
        }
    }
    graph
}

/// The cycles of `graph`: its strongly connected components of more than one module, each as
/// one closed walk through all its modules' files (`a → b → a`).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    // Tarjan's algorithm, iterative enough for a crate's dozen modules (recursion is fine).
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flat_map(|e| e.keys()) {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found.sort();
    s.found
}

/// The crate roots under `src/` of a crate directory: `lib.rs`, `main.rs`, `bin/*.rs`.
fn crate_roots(src: &Path) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> =
        ["lib.rs", "main.rs"].iter().map(|f| src.join(f)).filter(|p| p.is_file()).collect();
    if let Ok(entries) = fs::read_dir(src.join("bin")) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rs") {
                roots.push(path);
            } else if path.join("main.rs").is_file() {
                roots.push(path.join("main.rs"));
            }
        }
    }
    roots.sort();
    roots
}

fn read_rel(path: &str) -> Option<String> {
    fs::read_to_string(crate::tools::project_root().join(path)).ok()
}

/// Every crate root's module graph, by the root's relative path.
fn all_graphs() -> BTreeMap<String, Graph> {
    let mut graphs = BTreeMap::new();
    for dir in crate_dirs() {
        for root in crate_roots(&dir.join("src")) {
            let root = rel(&root);
            let modules = module_tree(&root, &read_rel);
            graphs.insert(root, module_graph(&modules, &read_rel));
        }
    }
    graphs
}

/// The cycle through `component` as `a.rs → b.rs → … → a.rs`, following edges inside it.
fn cycle_walk(graph: &Graph, component: &[String]) -> Vec<String> {
    let start = &component[0];
    let inside: BTreeSet<&String> = component.iter().collect();
    // Breadth-first from `start` back to it, within the component.
    let mut previous: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in graph.get(v).into_iter().flat_map(|e| e.keys()).filter(|w| inside.contains(w)) {
            if w == start {
                let mut walk = vec![start.clone(), v.clone()];
                let mut at = v;
                while at != start {
                    at = previous[at];
                    walk.push(at.clone());
                }
                walk.reverse();
                return walk;
            }
            if !previous.contains_key(w) && w != start {
                previous.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    component.to_vec()
}

#[test]
fn no_import_cycles_inside_a_crate() {
    let graphs = all_graphs();
    let roots: Vec<String> = graphs.keys().cloned().collect();
    assert_found(
        "crate roots",
        &roots,
        14,
        &["crates/sigv4/src/lib.rs", "crates/proxy/src/bin/ampfed-sigv4-proxy.rs", "xtask/src/main.rs"],
    );
    let modules: Vec<String> = graphs.values().flat_map(|g| g.keys().cloned()).collect();
    assert_found("modules", &modules, 60, &["crates/sigv4/src/verify.rs", "xtask/src/tidy.rs"]);
    // The edge finder works: known dependencies are seen.
    for (root, from, to) in [
        ("crates/sigv4/src/lib.rs", "crates/sigv4/src/verify.rs", "crates/sigv4/src/canonical.rs"),
        ("crates/proxy/src/lib.rs", "crates/proxy/src/chain.rs", "crates/proxy/src/credentials.rs"),
    ] {
        assert!(
            graphs.get(root).and_then(|g| g.get(from)).is_some_and(|e| e.contains_key(to)),
            "the module graph of {root} lacks {from} → {to}; the edge finder is broken"
        );
    }
    let mut problems = Vec::new();
    for graph in graphs.values() {
        for component in cycles(graph) {
            let walk = cycle_walk(graph, &component);
            let shown = walk.join(" → ");
            for pair in walk.windows(2) {
                let line = graph[&pair[0]][&pair[1]];
                problems.push(format!(
                    "{}:{line}: uses {} in the import cycle {shown}; move what both need into a module \
                     of its own (or into the one that is used), so dependencies go one way",
                    pair[0], pair[1]
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_cycle_finder_reads_grouped_uses_and_skips_comments_tests_and_the_facade() {
    let files: BTreeMap<&str, &str> = BTreeMap::from([
        (
            "c/src/lib.rs",
            "//! Root.\nmod a;\nmod b;\nmod c;\nmod d;\nmod f;\npub use crate::a::A;\npub use b::{B, self};\n\
             pub use f::F;\n\
             pub struct Root;\n",
        ),
        ("c/src/a.rs", "//! A. crate::b in a doc comment is no edge.\nuse crate::{b::B, Root};\n"),
        ("c/src/b.rs", "//! B.\n/* crate::a */ const S: &str = \"crate::a::A\";\nfn f() { crate::c::g() }\n"),
        (
            "c/src/c.rs",
            "//! C.\npub fn g() { super::d::h() }\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n",
        ),
        ("c/src/d/mod.rs", "//! D.\nmod e;\npub fn h() -> crate::F { e::i() }\n"),
        ("c/src/d/e.rs", "//! E.\npub fn i() { crate::c::g() }\n"),
        ("c/src/f.rs", "//! F.\npub struct F;\n"),
    ]);
    let read = |p: &str| files.get(p).map(|t| t.to_string());
    let modules = module_tree("c/src/lib.rs", &read);
    let names: Vec<&str> = modules.iter().map(|m| m.file.as_str()).collect();
    assert_eq!(
        names,
        [
            "c/src/lib.rs",
            "c/src/a.rs",
            "c/src/b.rs",
            "c/src/c.rs",
            "c/src/d/mod.rs",
            "c/src/d/e.rs",
            "c/src/f.rs"
        ]
    );
    let graph = module_graph(&modules, &read);
    let edges = |f: &str| graph[f].keys().map(String::as_str).collect::<Vec<_>>();
    assert_eq!(edges("c/src/lib.rs"), Vec::<&str>::new(), "the facade's pub use and mod lines are no edges");
    assert_eq!(edges("c/src/a.rs"), ["c/src/b.rs", "c/src/lib.rs"]);
    assert_eq!(edges("c/src/b.rs"), ["c/src/c.rs"], "comments and strings are no edges");
    assert_eq!(edges("c/src/c.rs"), ["c/src/d/mod.rs"], "test modules are no edges");
    assert_eq!(edges("c/src/d/mod.rs"), ["c/src/d/e.rs", "c/src/f.rs"], "re-exports are followed");
    assert_eq!(
        cycles(&graph),
        [vec!["c/src/c.rs".to_owned(), "c/src/d/e.rs".into(), "c/src/d/mod.rs".into()]]
    );
    let walk = cycle_walk(&graph, &cycles(&graph)[0]);
    assert_eq!(walk, ["c/src/c.rs", "c/src/d/mod.rs", "c/src/d/e.rs", "c/src/c.rs"]);
}

// ---------------------------------------------------------------------------------------
// Line checks over the sources.

#[test]
fn every_module_starts_with_a_doc_comment() {
    let files = sources();
    assert_found("Rust sources", &rels(&files), 100, KNOWN_SOURCES);
    let missing: Vec<String> = files
        .into_iter()
        .filter(|p| {
            let text = fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|p| format!("{}:1: add a `//!` line saying what the module is for", rel(&p)))
        .collect();
    assert!(missing.is_empty(), "\n{}", missing.join("\n"));
}

#[test]
fn no_ignored_tests_and_no_stubs() {
    let files = sources();
    assert_found("Rust sources", &rels(&files), 100, KNOWN_SOURCES);
    let mut problems = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let banned = [concat!("#[", "ignore"), concat!("todo", "!("), concat!("unimplemented", "!(")];
            if banned.iter().any(|b| line.contains(b)) {
                problems.push(format!("{}:{}: make it run or remove it: {}", rel(&path), i + 1, line.trim()));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn versions_are_pinned_only_in_the_workspace_manifest() {
    let manifests: Vec<PathBuf> = crate_dirs().into_iter().map(|d| d.join("Cargo.toml")).collect();
    assert_found(
        "crate manifests",
        &rels(&manifests),
        14,
        &[
            "xtask/Cargo.toml",
            "crates/sigv4/Cargo.toml",
            "crates/common/Cargo.toml",
            "integration/env/Cargo.toml",
        ],
    );
    let mut problems = Vec::new();
    for manifest in manifests {
        let text = fs::read_to_string(&manifest).unwrap_or_default();
        let mut in_deps = false;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.starts_with('[') {
                in_deps = t.contains("dependencies");
                continue;
            }
            if in_deps && !t.is_empty() && !t.starts_with('#') && !t.contains("workspace = true") {
                problems.push(format!(
                    "{}:{}: declare the version in the root Cargo.toml [workspace.dependencies] and use `.workspace = true`: {t}",
                    rel(&manifest),
                    i + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Files that may sleep, each for a reason of its own; everything else under `crates/` and
/// `integration/` waits on something observable with `ampfed_common::wait`.
const SLEEP_ALLOWED: &[(&str, &str)] = &[
    // The waiting primitive itself: its pause between two looks.
    ("crates/common/src/wait.rs", "the pause between looks"),
    // The stop grace loop: SIGTERM, then a look every 50 ms until the grace ends (SIGKILL).
    ("integration/env/src/process.rs", "the stop grace loop"),
    // A server's accept loop after a failed accept: nothing to look at, only time clears it.
    ("crates/common/src/accept.rs", "the accept loop's pause"),
];

/// Benchmarks measure time; pacing them is not waiting for readiness.
fn is_bench(path: &str) -> bool {
    path.contains("/benches/")
}

/// Whether `line` (comments and strings stripped) calls a sleep: `thread::sleep(…)`,
/// `tokio::time::sleep(…)`, `sleep_until(…)` or an imported `sleep(…)`, whatever the duration.
fn calls_sleep(line: &str) -> bool {
    ["sleep", "sleep_until"].iter().any(|name| {
        line.match_indices(name).any(|(at, _)| {
            let before = &line[..at];
            let after = line[at + name.len()..].trim_start();
            let boundary = !before.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.');
            boundary && after.starts_with('(') && !before.trim_end().ends_with("fn")
        })
    })
}

#[test]
fn scenario_code_waits_on_probes_not_fixed_sleeps() {
    let files: Vec<PathBuf> =
        sources().into_iter().filter(|p| CRATE_FOLDERS.iter().any(|f| rel(p).starts_with(f))).collect();
    assert_found(
        "sources under crates/ and integration/",
        &rels(&files),
        90,
        &["integration/e2e/src/lib.rs", "crates/proxy/tests/proxy/binary.rs", "crates/common/src/wait.rs"],
    );
    // The allow-list names files that exist and still sleep; a stale entry is a problem too.
    let mut problems = Vec::new();
    for (allowed, why) in SLEEP_ALLOWED {
        let text = read_rel(allowed).unwrap_or_default();
        if !strip(&text, true).lines().any(calls_sleep) {
            problems.push(format!("{allowed}:1: no longer sleeps ({why}); remove it from SLEEP_ALLOWED"));
        }
    }
    for path in files {
        let name = rel(&path);
        if is_bench(&name) || SLEEP_ALLOWED.iter().any(|(allowed, _)| *allowed == name) {
            continue;
        }
        let text = strip(&fs::read_to_string(&path).unwrap_or_default(), true);
        for (i, line) in text.lines().enumerate() {
            if calls_sleep(line) {
                problems.push(format!(
                    "{name}:{}: wait on something observable with a bounded poll \
                     (ampfed_common::wait::Wait) instead of sleeping",
                    i + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Where processes may be started: the harness's services, the test helpers, the task runner.
const PROCESS_STARTERS: &[&str] = &["integration/env/", "integration/test-support/", "xtask/"];

#[test]
fn only_the_environment_and_test_support_start_processes() {
    let files = sources();
    assert_found("Rust sources", &rels(&files), 100, KNOWN_SOURCES);
    let mut problems = Vec::new();
    for path in files {
        let name = rel(&path);
        if PROCESS_STARTERS.iter().any(|dir| name.starts_with(dir)) {
            continue;
        }
        let text = strip(&fs::read_to_string(&path).unwrap_or_default(), true);
        // Building a `Command` to hand to `ampfed_test_support::run_bounded` is how a test runs
        // a program, and to `Served::start` how a bench serves from a child (stopped on drop);
        // building one for anything else, or starting it yourself, is not.
        let bounded = text.contains("run_bounded(") || text.contains("Served::start(");
        for (i, line) in text.lines().enumerate() {
            let builds = line.contains("Command::new") || line.contains("process::Command");
            let starts = line.contains(".spawn()") || line.contains(".output()");
            if line.contains("tokio::process") || starts || (builds && !bounded) {
                problems.push(format!(
                    "{name}:{}: start processes through ampfed-env (services), \
                     ampfed_test_support::run_bounded (a program run to its end) or \
                     ampfed_test_support::Served (a server in a child, stopped on drop)",
                    i + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_server_listens_on_localhost() {
    // Built so that this file does not match itself.
    let wildcard = [
        concat!("0.0.0", ".0"),
        concat!("[:", ":]"),
        concat!("Ipv4Addr::", "UNSPECIFIED"),
        concat!("Ipv6Addr::", "UNSPECIFIED"),
    ];
    let root = crate::tools::project_root();
    let mut files = sources();
    if let Ok(entries) = fs::read_dir(root.join("scripts")) {
        files
            .extend(entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "sh")));
    }
    assert_found(
        "sources and scripts",
        &rels(&files),
        100,
        &["scripts/versions.sh", "crates/proxy/src/server.rs"],
    );
    let mut problems = Vec::new();
    for path in files {
        let raw = fs::read_to_string(&path).unwrap_or_default();
        let rust = path.extension().is_some_and(|e| e == "rs");
        let text = if rust { strip(&raw, false) } else { raw };
        let mut function = String::new();
        for (i, line) in text.lines().enumerate() {
            let code = if rust { line } else { line.split('#').next().unwrap_or("") };
            if let Some(rest) = code.trim_start().split("fn ").nth(1) {
                function = rest.split(['(', '<']).next().unwrap_or("").to_owned();
            }
            // A test asserting that a wildcard address is refused may name it.
            if wildcard.iter().any(|w| code.contains(w)) && !function.contains("refus") {
                problems.push(format!(
                    "{}:{}: listen on 127.0.0.1 (Ipv4Addr::LOCALHOST), never on every interface",
                    rel(&path),
                    i + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Every text file of the repository that the reference check reads.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && name != ".git" {
                text_files(&path, out);
            }
            continue;
        }
        let checked = ["rs", "md", "toml", "sh", "yaml", "yml"];
        let is_ci_run = name == "run" && path.parent().and_then(Path::file_name).is_some_and(|n| n == ".ci");
        if is_ci_run || path.extension().is_some_and(|e| checked.iter().any(|c| e == *c)) {
            out.push(path);
        }
    }
}

#[test]
fn no_reference_outside_the_repository() {
    let mut files = Vec::new();
    text_files(&crate::tools::project_root(), &mut files);
    files.sort();
    assert_found(
        "text files",
        &rels(&files),
        120,
        &[
            "README.md",
            "ARCHITECTURE.md",
            "Cargo.toml",
            ".ci/run",
            "scripts/versions.sh",
            "xtask/src/tidy.rs",
        ],
    );
    // Built so that this file does not match itself.
    let outside = [concat!("..", "/shared"), concat!("shared", "/reference")];
    let mut problems = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if let Some(found) = outside.iter().find(|o| line.contains(*o)) {
                problems.push(format!(
                    "{}:{}: `{found}` is outside the repository; link a page under docs/ instead",
                    rel(&path),
                    i + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_architecture_names_only_paths_that_exist() {
    let root = crate::tools::project_root();
    let text = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut named = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // `code spans` that look like repository paths: a known top folder, then more.
        for (k, span) in line.split('`').enumerate() {
            let top = ["crates/", "integration/", "xtask/", "fixtures/", "scripts/", "docs/", ".ci/"];
            if k % 2 == 1 && top.iter().any(|t| span.starts_with(t)) && !span.contains(['*', '<', ' ']) {
                named.push((i + 1, span.trim_end_matches('/').to_owned()));
            }
        }
    }
    assert!(named.len() >= 10, "ARCHITECTURE.md names only {} paths; is its code map gone?", named.len());
    let problems: Vec<String> = named
        .iter()
        .filter(|(_, path)| !root.join(path).exists())
        .map(|(line, path)| format!("ARCHITECTURE.md:{line}: `{path}` does not exist; update the code map"))
        .collect();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Snapshots.

/// Every `snapshots/` directory under `dir`.
fn snapshot_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() || path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "snapshots") {
            out.push(path);
        } else {
            snapshot_dirs(&path, out);
        }
    }
}

#[test]
fn every_snapshot_is_asserted_by_name_and_none_is_pending() {
    let mut dirs = Vec::new();
    for folder in CRATE_FOLDERS {
        snapshot_dirs(&crate::tools::project_root().join(folder), &mut dirs);
    }
    dirs.sort();
    assert_found(
        "snapshot directories",
        &rels(&dirs),
        2,
        &["integration/e2e/snapshots", "integration/aws-mock/tests/amp/snapshots"],
    );
    let code: String = sources().iter().filter_map(|p| fs::read_to_string(p).ok()).collect();
    let mut problems = Vec::new();
    let mut snapshots = 0;
    for dir in dirs {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.ends_with(".snap.new") || file.ends_with(".pending-snap") {
                problems.push(format!(
                    "{}: pending snapshot: review it with `cargo insta review` or delete it",
                    rel(&entry.path())
                ));
            } else if let Some(stem) = file.strip_suffix(".snap") {
                snapshots += 1;
                // insta names files `<module>__<name>.snap` unless the module prefix is off.
                let name = stem.rsplit("__").next().unwrap_or(stem);
                if !code.contains(&format!("snapshot!(\"{name}\"")) {
                    problems.push(format!(
                        "{}: no assertion names {name:?}; delete the file",
                        rel(&entry.path())
                    ));
                }
            }
        }
    }
    assert!(snapshots >= 2, "found only {snapshots} snapshot files; did the snapshots move?");
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
