//! The layering rule of `ARCHITECTURE.md`, checked on every `.rs` file under `engine/`.
//!
//! Floors, from the bottom: (1) `jobs`, `gpu`; (2) `assets`, `telemetry`; (3) `anim`, `env`,
//! `audio`; (4) `scene`; (5) `render`; (6) `offscreen`, `overlay`; (7) `engine`, `bench` and `app`
//! (the desktop app writes screenshots with the offscreen writer), the facades that gather every
//! way in; (8) `main.rs`. A
//! module may use its own items and those of modules on lower floors, never a module on its own
//! floor or above. Inside `engine/render/`, the pass files (`animate`, `avatar`, `cull_lod`,
//! `ground`, `skin`) do not use one another: what two passes share lives in a common module.
//!
//! Every path that starts with `crate::` or `super::` is an edge, in `use` declarations
//! (including `use crate::{a, b::{c, d}}` groups over several lines) and inline in code alike;
//! comments, doc comments, strings and character literals are ignored. A path through a
//! re-export (`crate::GpuContext`, `super::Name` re-exported by `render/mod.rs`) counts as an
//! edge to the module that defines the item. `engine/lib.rs` (the crate root, whose re-exports
//! are the curated API) and `engine/main.rs` (the top floor, which reaches the library as
//! `tutti::`) are not checked.
//!
//! The test fails if there is any violation, listing every one as `file:line: edge: why`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// The floors, from the bottom. A module not listed here has no floor: using it is a violation
/// until it is given one.
const FLOORS: &[(&str, u8)] = &[
    ("jobs", 1),
    ("gpu", 1),
    ("assets", 2),
    ("telemetry", 2),
    ("anim", 3),
    ("env", 3),
    ("audio", 3),
    ("scene", 4),
    ("render", 5),
    ("offscreen", 6),
    ("app", 7),
    ("overlay", 6),
    ("engine", 7),
    ("bench", 7),
];

/// The render pass files, which must not use one another.
const PASSES: &[&str] = &["animate", "avatar", "cull_lod", "ground", "skin"];

fn floor(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|&(_, f)| f)
}

/// A forbidden edge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Violation {
    /// File, relative to the repository (`engine/jobs/frame.rs`).
    file: String,
    /// 1-based line of the path.
    line: usize,
    /// `from -> to (crate::path::as::resolved)`.
    edge: String,
    /// The rule it breaks.
    why: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.edge, self.why
        )
    }
}

/// What a module's `use` declarations bring into its namespace: name -> absolute path.
type Names = HashMap<String, Vec<String>>;

/// Names visible through the crate root (`lib.rs`) and through `render/mod.rs`, so that a path
/// through a re-export resolves to the module that defines the item.
#[derive(Debug, Default)]
struct Reexports {
    root: Names,
    render: Names,
    /// The files of `engine/render/` (child modules of `render`), by stem.
    render_children: Vec<String>,
}

impl Reexports {
    /// From the crate root's and `render/mod.rs`'s sources.
    fn new(lib_rs: &str, render_mod_rs: &str, render_children: &[&str]) -> Self {
        Self {
            root: use_names(lib_rs, &[]),
            render: use_names(render_mod_rs, &["render".to_string()]),
            render_children: render_children.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `path` with a leading re-exported name replaced by what it names (once per level).
    fn resolve(&self, mut path: Vec<String>) -> Vec<String> {
        if let Some(first) = path.first()
            && floor(first).is_none()
            && let Some(target) = self.root.get(first)
        {
            path.splice(0..1, target.iter().cloned());
        }
        if path.len() >= 2
            && path[0] == "render"
            && !self.render_children.contains(&path[1])
            && let Some(target) = self.render.get(&path[1])
        {
            path.splice(0..2, target.iter().cloned());
        }
        path
    }
}

// ---------------------------------------------------------------------------------------------
// Lexing

/// `src` with comments, string literals and character literals replaced by spaces (newlines
/// kept, so line numbers stay right).
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0usize;
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
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if let Some((open, hashes, raw)) =
            string_start(&c, i).filter(|_| ch == '"' || i == 0 || !is_ident(c[i - 1]))
        {
            // Prefix and opening quote.
            for &p in &c[i..i + open] {
                blank(&mut out, p);
            }
            i += open;
            while i < c.len() {
                if !raw && c[i] == '\\' {
                    blank(&mut out, c[i]);
                    if let Some(&e) = c.get(i + 1) {
                        blank(&mut out, e);
                    }
                    i += 2;
                    continue;
                }
                if c[i] == '"' && (0..hashes).all(|h| c.get(i + 1 + h) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += 1 + hashes;
                    break;
                }
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if ch == '\'' {
            // A character literal ('x', '\n', '\u{..}', '\'') or a lifetime ('a, 'static).
            let end = if next == Some('\\') {
                let mut j = i + 3;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                Some(j)
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(j) => {
                    for &x in &c[i..=j.min(c.len() - 1)] {
                        blank(&mut out, x);
                    }
                    i = j + 1;
                }
                None => {
                    out.push(ch);
                    i += 1;
                }
            }
        } else {
            out.push(ch);
            i += 1;
        }
    }
    out
}

/// If a string literal starts at `i`: (characters up to and including the opening quote, number
/// of `#`, raw).
fn string_start(c: &[char], i: usize) -> Option<(usize, usize, bool)> {
    let mut j = i;
    // Optional b or c prefix, then optional r.
    if matches!(c.get(j), Some('b' | 'c')) {
        j += 1;
    }
    let raw = c.get(j) == Some(&'r');
    if raw {
        j += 1;
    }
    let mut hashes = 0;
    while raw && c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (c.get(j) == Some(&'"')).then_some((j + 1 - i, hashes, raw))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

/// Tokens of stripped source.
fn tokens(code: &str) -> Vec<Token> {
    let c: Vec<char> = code.chars().collect();
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
            out.push(Token {
                tok: Tok::Ident(c[start..i].iter().collect()),
                line,
            });
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Punct('0'),
                line,
            });
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Token {
                tok: Tok::Sep,
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                tok: Tok::Punct(ch),
                line,
            });
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Paths

/// One path found in code: its line, the absolute path it names (crate root first), and the
/// name it binds in a `use` (`as` aware).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    line: usize,
    path: Vec<String>,
    binds: Option<String>,
}

fn is(t: Option<&Token>, tok: &Tok) -> bool {
    t.is_some_and(|t| &t.tok == tok)
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

/// Parse a path or use tree at `t[*i]` below `prefix`, pushing every leaf.
fn parse_tree(t: &[Token], i: &mut usize, prefix: &[String], line: usize, out: &mut Vec<Found>) {
    match t.get(*i).map(|x| &x.tok) {
        Some(Tok::Punct('{')) => {
            *i += 1;
            loop {
                if is(t.get(*i), &Tok::Punct('}')) {
                    *i += 1;
                    return;
                }
                let before = *i;
                let line = t.get(*i).map_or(line, |x| x.line);
                parse_tree(t, i, prefix, line, out);
                if is(t.get(*i), &Tok::Punct(',')) {
                    *i += 1;
                } else if is(t.get(*i), &Tok::Punct('}')) {
                    *i += 1;
                    return;
                } else if *i == before || *i >= t.len() {
                    return; // not a use tree after all
                }
            }
        }
        Some(Tok::Punct('*')) => {
            *i += 1;
            out.push(Found {
                line,
                path: prefix.to_vec(),
                binds: None,
            });
        }
        Some(Tok::Ident(name)) => {
            let line = t[*i].line;
            *i += 1;
            let path = if name == "self" {
                prefix.to_vec()
            } else {
                let mut p = prefix.to_vec();
                p.push(name.clone());
                p
            };
            if is(t.get(*i), &Tok::Sep)
                && matches!(
                    t.get(*i + 1).map(|x| &x.tok),
                    Some(Tok::Ident(_) | Tok::Punct('{' | '*'))
                )
            {
                *i += 1;
                parse_tree(t, i, &path, line, out);
                return;
            }
            let mut binds = path.last().cloned();
            if ident(t.get(*i)) == Some("as")
                && let Some(alias) = ident(t.get(*i + 1))
            {
                binds = Some(alias.to_string());
                *i += 2;
            }
            out.push(Found { line, path, binds });
        }
        _ => {
            if !prefix.is_empty() {
                out.push(Found {
                    line,
                    path: prefix.to_vec(),
                    binds: None,
                });
            }
        }
    }
}

/// Every `crate::`/`super::` path in `src`, a file of module `module` (e.g. `["render",
/// "skin"]`), resolved to an absolute path. `super` counts the inline modules (`mod tests {`)
/// around it.
fn paths(src: &str, module: &[String]) -> Vec<Found> {
    let t = tokens(&strip(src));
    let mut out = Vec::new();
    let mut depth = 0usize;
    // Inline modules: (name, brace depth inside them).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < t.len() {
        match &t[i].tok {
            Tok::Punct('{') => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    inline.push((name, depth));
                }
                i += 1;
            }
            Tok::Punct('}') => {
                if inline.last().is_some_and(|&(_, d)| d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Ident(word)
                if (word == "crate" || word == "super")
                    && is(t.get(i + 1), &Tok::Sep)
                    && !(i > 0 && is(t.get(i - 1), &Tok::Sep)) =>
            {
                pending_mod = None;
                let line = t[i].line;
                let mut base: Vec<String> = Vec::new();
                if word == "crate" {
                    i += 2;
                } else {
                    base = module.to_vec();
                    base.extend(inline.iter().map(|(n, _)| n.clone()));
                    while ident(t.get(i)) == Some("super") && is(t.get(i + 1), &Tok::Sep) {
                        base.pop();
                        i += 2;
                    }
                }
                parse_tree(&t, &mut i, &base, line, &mut out);
            }
            Tok::Ident(word) if word == "mod" => {
                pending_mod = ident(t.get(i + 1)).map(str::to_string);
                i += 2;
            }
            _ => {
                pending_mod = None;
                i += 1;
            }
        }
    }
    out
}

/// The names the `use` declarations of a module file bind (relative paths are children of
/// `module`), for re-export resolution.
fn use_names(src: &str, module: &[String]) -> Names {
    let t = tokens(&strip(src));
    let mut names = Names::new();
    let mut i = 0;
    while i < t.len() {
        if ident(t.get(i)) != Some("use") {
            i += 1;
            continue;
        }
        i += 1;
        let mut base = module.to_vec();
        match ident(t.get(i)) {
            Some("crate") if is(t.get(i + 1), &Tok::Sep) => {
                base.clear();
                i += 2;
            }
            Some("super") => {
                while ident(t.get(i)) == Some("super") && is(t.get(i + 1), &Tok::Sep) {
                    base.pop();
                    i += 2;
                }
            }
            Some("self") if is(t.get(i + 1), &Tok::Sep) => i += 2,
            _ => {}
        }
        let mut found = Vec::new();
        let line = t.get(i).map_or(0, |x| x.line);
        parse_tree(&t, &mut i, &base, line, &mut found);
        for f in found {
            if let Some(name) = f.binds {
                names.insert(name, f.path);
            }
        }
    }
    names
}

/// The module path of a file relative to `engine/`: `render/skin.rs` -> `[render, skin]`,
/// `render/mod.rs` -> `[render]`, `assets/gltf_import/data.rs` -> `[assets, gltf_import, data]`.
fn module_path(rel: &str) -> Vec<String> {
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

// ---------------------------------------------------------------------------------------------
// Rules

/// The violations in one file. `rel` is the file's path relative to `engine/`.
fn check_file(rel: &str, src: &str, reexports: &Reexports) -> Vec<Violation> {
    let module = module_path(rel);
    let Some(from) = module.first().cloned() else {
        return Vec::new();
    };
    let file = format!("engine/{rel}");
    let from_floor = floor(&from);
    let mut out: Vec<Violation> = Vec::new();
    for found in paths(src, &module) {
        let path = reexports.resolve(found.path);
        let Some(to) = path.first() else {
            continue; // `use super::*` into the crate root
        };
        let edge = |to_desc: String| {
            format!(
                "{} -> {to_desc} (crate::{})",
                module.join("::"),
                path.join("::")
            )
        };
        let mut push = |edge: String, why: String| {
            let v = Violation {
                file: file.clone(),
                line: found.line,
                edge,
                why,
            };
            if !out.contains(&v) {
                out.push(v);
            }
        };
        if *to == from {
            // Pass files do not use one another.
            if from == "render"
                && let (Some(a), Some(b)) = (module.get(1), path.get(1))
                && a != b
                && PASSES.contains(&a.as_str())
                && PASSES.contains(&b.as_str())
            {
                push(
                    edge(format!("render::{b}")),
                    format!(
                        "the render pass files do not use one another: move what {a}.rs needs from {b}.rs into a module the passes share"
                    ),
                );
            }
            continue;
        }
        let Some(from_floor) = from_floor else {
            push(
                edge(to.clone()),
                format!("module {from} has no floor: add it to FLOORS in tests/layers.rs"),
            );
            continue;
        };
        match floor(to) {
            None => push(
                edge(to.clone()),
                format!(
                    "crate::{to} is neither a module with a floor nor a re-export of one: give it a floor in tests/layers.rs"
                ),
            ),
            Some(to_floor) if to_floor < from_floor => {}
            Some(to_floor) if to_floor == from_floor => push(
                edge(format!("{to} (floor {to_floor})")),
                format!(
                    "{from} and {to} are both on floor {to_floor}; modules on one floor do not use each other"
                ),
            ),
            Some(to_floor) => push(
                edge(format!("{to} (floor {to_floor})")),
                format!(
                    "{from} is on floor {from_floor}, below {to}; an import may only point to a lower floor"
                ),
            ),
        }
    }
    out
}

/// Every `.rs` file under `dir`, as paths relative to it with `/` separators, sorted.
fn rust_files(dir: &Path, rel: &str, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if p.is_dir() {
            rust_files(&p, &child, out);
        } else if name.ends_with(".rs") {
            out.push(child);
        }
    }
}

#[test]
fn no_module_imports_its_own_floor_or_above_and_passes_do_not_import_each_other() {
    let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("engine");
    let mut files = Vec::new();
    rust_files(&engine, "", &mut files);
    assert!(files.len() > 20, "found only {files:?} under engine/");
    let read = |rel: &str| {
        std::fs::read_to_string(engine.join(rel)).unwrap_or_else(|e| panic!("engine/{rel}: {e}"))
    };
    let render_children: Vec<&str> = files
        .iter()
        .filter_map(|f| f.strip_prefix("render/"))
        .map(|f| f.split('/').next().unwrap_or(f).trim_end_matches(".rs"))
        .collect();
    let reexports = Reexports::new(&read("lib.rs"), &read("render/mod.rs"), &render_children);
    let mut violations = Vec::new();
    for rel in &files {
        if rel == "lib.rs" || rel == "main.rs" {
            continue;
        }
        violations.extend(check_file(rel, &read(rel), &reexports));
    }
    assert!(
        violations.is_empty(),
        "{} forbidden import edge(s):\n{}",
        violations.len(),
        violations
            .iter()
            .map(Violation::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Self-tests of the detector

fn check(rel: &str, src: &str) -> Vec<String> {
    let reexports = Reexports::new(
        "pub mod gpu;\npub use gpu::{Discovery, GpuContext as Ctx};\n",
        "mod skin;\npub use skin::SkinPass;\npub(crate) use skin::storage_entry;\n",
        &["mod", "skin", "avatar", "common"],
    );
    check_file(rel, src, &reexports)
        .iter()
        .map(|v| format!("{}:{}", v.line, v.edge))
        .collect()
}

#[test]
fn detector_catches_an_upward_use_and_a_same_floor_use() {
    let v = check(
        "jobs/frame.rs",
        "use crate::scene::World;\nuse crate::jobs::Executor;\nuse crate::gpu::GpuContext;\n",
    );
    assert_eq!(
        v,
        [
            "1:jobs::frame -> scene (floor 4) (crate::scene::World)",
            "3:jobs::frame -> gpu (floor 1) (crate::gpu::GpuContext)"
        ]
    );
    assert!(check("scene/world.rs", "use crate::anim::x;\n").is_empty());
}

#[test]
fn detector_ignores_comments_doc_comments_strings_and_chars() {
    let src = r##"
//! Uses crate::render::Thing in prose.
/// See crate::render::Foo.
// use crate::render::Bar;
/* use crate::render::Baz; /* nested crate::scene::X */ still comment crate::scene::Y */
fn f<'a>(s: &'a str) -> &'a str {
    let _ = "crate::render::Quux";
    let _ = r#"use crate::render::Raw; "quoted" "#;
    let _ = b"crate::scene::Bytes";
    let _ = ('"', '\'', '\u{1F600}');
    s
}
"##;
    assert_eq!(check("jobs/x.rs", src), Vec::<String>::new());
}

#[test]
fn detector_catches_every_member_of_a_multi_line_group() {
    let src = "use crate::{\n    jobs::Executor,\n    scene::{\n        World,\n        format::{Camera, Layout},\n    },\n    render,\n};\n";
    assert_eq!(
        check("jobs/x.rs", src),
        [
            "4:jobs::x -> scene (floor 4) (crate::scene::World)",
            "5:jobs::x -> scene (floor 4) (crate::scene::format::Camera)",
            "5:jobs::x -> scene (floor 4) (crate::scene::format::Layout)",
            "7:jobs::x -> render (floor 5) (crate::render)",
        ]
    );
}

#[test]
fn detector_catches_inline_paths_and_paths_through_re_exports() {
    let src =
        "fn f() {\n    let w = crate::scene::World::new();\n    let c: crate::Ctx = todo!();\n}\n";
    assert_eq!(
        check("jobs/x.rs", src),
        [
            "2:jobs::x -> scene (floor 4) (crate::scene::World::new)",
            "3:jobs::x -> gpu (floor 1) (crate::gpu::GpuContext)",
        ]
    );
    // An unknown module is reported, not waved through.
    assert_eq!(
        check("jobs/x.rs", "use crate::physics::Body;\n"),
        ["1:jobs::x -> physics (crate::physics::Body)"]
    );
}

#[test]
fn detector_resolves_super_for_passes_and_inline_test_modules() {
    // A pass using another pass: directly, through crate::render, and through a re-export.
    let src = "use super::skin::storage_entry;\nuse super::{common::Thing, SkinPass};\nfn f() { crate::render::skin::plan(); super::storage_entry(); }\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::common::X;\n}\n";
    assert_eq!(
        check("render/avatar.rs", src),
        [
            "1:render::avatar -> render::skin (crate::render::skin::storage_entry)",
            "2:render::avatar -> render::skin (crate::render::skin::SkinPass)",
            "3:render::avatar -> render::skin (crate::render::skin::plan)",
            "3:render::avatar -> render::skin (crate::render::skin::storage_entry)",
        ]
    );
    // From a mod.rs, `super` is the crate root; the pass rule does not apply to mod.rs.
    assert_eq!(
        check(
            "render/mod.rs",
            "use super::offscreen::X;\nuse skin::SkinPass;\n"
        ),
        ["1:render -> offscreen (floor 6) (crate::offscreen::X)"]
    );
    assert!(check("render/skin.rs", "use super::common::X;\n").is_empty());
}
