//! The Terraform evaluator: `.tf` files → one [`TfResource`] per resource
//! instance, with every argument evaluated as far as it is known at build time.
//!
//! Files are grouped into modules by directory. Directories that no other
//! scanned directory calls as a local module are root modules (except the
//! directories of Terraform's module cache, `.terraform/modules/`, which are
//! reached only through module calls); each root gets its `.tfvars`, then
//! [`TfInputs`]. A module call with a registry, git or HTTP source is
//! expanded from the root's module cache when `terraform init` downloaded it
//! there (see `eval/manifest.rs`). Everything is evaluated lazily and
//! memoized per module instance (variables, locals, resources, module calls,
//! outputs), so each value is computed once and reference cycles end as an
//! error instead of a hang. A value that cannot be known before `apply`
//! (another resource's computed attribute, a variable without a value, a data
//! source, a function the library lacks) is [`Val::Unknown`]; the
//! expression language is in `eval/expr.rs`.

mod expr;
mod files;
mod manifest;

pub use manifest::is_module_manifest;

#[cfg(test)]
mod eval_tests;

use super::{TfInputs, TfResource};
use crate::value::Val;
use crate::ParseError;
use expr::{Env, EvalResult};
use files::{dir_of, display_dir, join, SrcFile};
use hcl::edit::expr::Expression;
use hcl::edit::structure::{Block, Body};
use hcl::edit::Span;
use manifest::{in_module_cache, Manifests};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;

/// The deepest module nesting evaluated (Terraform has no limit; a real
/// configuration rarely exceeds 5).
const MAX_MODULE_DEPTH: usize = 16;

/// Evaluates the resource blocks of a set of `.tf` files (plus `.tfvars`,
/// `.tfvars.json` and any other files `file()` may read).
///
/// Root modules are evaluated one at a time, each with only the modules it
/// reaches: a module's syntax trees are parsed when a root first needs them
/// and dropped after the last root that reaches it, so memory follows the
/// largest module tree rather than the whole scan.
pub fn evaluate(
    files: &[(String, String)],
    inputs: &TfInputs,
) -> (Vec<TfResource>, Vec<ParseError>) {
    let mut errors = Vec::new();
    let parsed = files::parse_all(files, inputs, &mut errors);
    let manifests = Manifests::read(files, &mut errors);
    let graph = Graph::new(&parsed.tf, &manifests);
    let cached: Vec<bool> = graph.dirs.iter().map(|d| in_module_cache(d)).collect();
    let roots = root_dirs(&graph.children, &cached);
    let reach: Vec<Vec<usize>> = roots.iter().map(|&r| graph.reachable(r)).collect();
    // The last root (by position in `roots`) that needs each directory.
    let mut last_use = vec![0; graph.dirs.len()];
    for (rank, dirs) in reach.iter().enumerate() {
        for &d in dirs {
            last_use[d] = rank;
        }
    }
    // Syntax trees of the directories some later root still needs.
    let mut trees: HashMap<usize, Vec<SrcFile>> = HashMap::new();
    let mut out = Vec::new();
    for (rank, (&root, dirs)) in roots.iter().zip(&reach).enumerate() {
        for &d in dirs {
            trees.entry(d).or_insert_with(|| {
                graph.files[d]
                    .iter()
                    .filter_map(|&o| parsed.tf[o].parse(files))
                    .collect()
            });
        }
        // The files in the order given, as if all were evaluated together.
        let mut srcs: Vec<(usize, &SrcFile)> = dirs
            .iter()
            .flat_map(|d| graph.files[*d].iter().zip(&trees[d]))
            .map(|(&o, f)| (o, f))
            .collect();
        srcs.sort_by_key(|&(o, _)| o);
        let srcs: Vec<&SrcFile> = srcs.into_iter().map(|(_, f)| f).collect();
        {
            let ctx = Ctx {
                inputs,
                manifests: &manifests,
                modules: build_modules(&srcs),
                files: &srcs,
                texts: &parsed.texts,
                insts: RefCell::new(Vec::new()),
                errors: RefCell::new(Vec::new()),
                local_stack: RefCell::new(Vec::new()),
            };
            let module = ctx
                .modules
                .iter()
                .position(|m| m.dir == graph.dirs[root])
                .unwrap_or_default();
            let chain = vec![graph.dirs[root].clone()];
            let inst = ctx.new_inst(Inst::new(module, String::new(), None, chain, String::new()));
            let vars = parsed.root_vars(&ctx, inst);
            ctx.insts.borrow_mut()[inst].root_vars = vars;
            ctx.collect(inst, &mut out);
            errors.extend(ctx.errors.into_inner());
        }
        trees.retain(|d, _| last_use[*d] > rank);
    }
    let mut seen = HashSet::new();
    errors.retain(|e| seen.insert(e.to_string()));
    (out, errors)
}

/// The module directories of the parsed `.tf` files and their local calls.
struct Graph {
    /// Module directories, sorted.
    dirs: Vec<String>,
    /// Per directory: its files (indexes into `Parsed::tf`), in order.
    files: Vec<Vec<usize>>,
    /// Per directory: the directories its local `module` calls name that
    /// hold parsed files, and for a root with a module cache, the cached
    /// module directories its manifest lists that hold parsed files.
    children: Vec<Vec<usize>>,
}

impl Graph {
    fn new(outlines: &[files::Outline], manifests: &Manifests) -> Self {
        let mut by_dir: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, o) in outlines.iter().enumerate() {
            by_dir.entry(o.dir.as_str()).or_default().push(i);
        }
        let index: HashMap<&str, usize> = by_dir.keys().enumerate().map(|(i, d)| (*d, i)).collect();
        let children = by_dir
            .iter()
            .map(|(dir, ids)| {
                ids.iter()
                    .flat_map(|&i| outlines[i].calls.iter().map(String::as_str))
                    .chain(manifests.dirs(dir))
                    .filter_map(|d| index.get(d).copied())
                    .collect()
            })
            .collect();
        Graph {
            dirs: by_dir.keys().map(|d| d.to_string()).collect(),
            files: by_dir.into_values().collect(),
            children,
        }
    }

    /// The directories reachable from `root` through local calls, `root`
    /// included, sorted.
    fn reachable(&self, root: usize) -> Vec<usize> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![root];
        while let Some(d) = todo.pop() {
            if seen.insert(d) {
                todo.extend(&self.children[d]);
            }
        }
        seen.into_iter().collect()
    }
}

/// The module directories evaluated as roots, given each one's local
/// calls: those no other directory calls, then (for call cycles) any
/// directory not reached from those; never a directory of a module cache
/// (`cached`).
fn root_dirs(children: &[Vec<usize>], cached: &[bool]) -> Vec<usize> {
    let mut called = HashSet::new();
    // A cached module's calls do not count: a relative source that leaves
    // the cache (an example calling `../../..`) must not hide a root.
    for (i, cs) in children.iter().enumerate().filter(|&(i, _)| !cached[i]) {
        for &c in cs {
            if c != i {
                called.insert(c);
            }
        }
    }
    let mut roots: Vec<usize> = (0..children.len())
        .filter(|&i| !called.contains(&i) && !cached[i])
        .collect();
    let mut reached: HashSet<usize> = HashSet::new();
    let mut todo = roots.clone();
    while let Some(i) = todo.pop() {
        if reached.insert(i) {
            todo.extend(&children[i]);
        }
    }
    for (i, &in_cache) in cached.iter().enumerate() {
        if !reached.contains(&i) && !in_cache {
            roots.push(i);
            let mut todo = vec![i];
            while let Some(j) = todo.pop() {
                if reached.insert(j) {
                    todo.extend(&children[j]);
                }
            }
        }
    }
    roots
}

/// The declarations of one module (the `.tf` files of one directory).
struct Module<'a> {
    dir: String,
    variables: HashMap<&'a str, (usize, &'a Block)>,
    locals: HashMap<&'a str, (usize, &'a Expression)>,
    outputs: HashMap<&'a str, (usize, &'a Expression)>,
    /// Resource blocks in file order.
    resources: Vec<(usize, &'a Block)>,
    /// `provider` blocks in file order.
    providers: Vec<(usize, &'a Block)>,
    resource_index: HashMap<(&'a str, &'a str), usize>,
    calls: Vec<(usize, &'a Block)>,
    call_index: HashMap<&'a str, usize>,
}

fn label(b: &Block, i: usize) -> &str {
    b.labels.get(i).map_or("", |l| l.as_str())
}

fn build_modules<'a>(files: &[&'a SrcFile]) -> Vec<Module<'a>> {
    let mut by_dir: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        by_dir.entry(dir_of(&f.path)).or_default().push(i);
    }
    by_dir
        .into_iter()
        .map(|(dir, ids)| {
            let mut m = Module {
                dir,
                variables: HashMap::new(),
                locals: HashMap::new(),
                outputs: HashMap::new(),
                resources: Vec::new(),
                providers: Vec::new(),
                resource_index: HashMap::new(),
                calls: Vec::new(),
                call_index: HashMap::new(),
            };
            for id in ids {
                let body: &'a Body = &files[id].body;
                for block in body.blocks() {
                    match block.ident.as_str() {
                        "variable" => {
                            m.variables.insert(label(block, 0), (id, block));
                        }
                        "locals" => {
                            for a in block.body.attributes() {
                                m.locals.insert(a.key.as_str(), (id, &a.value));
                            }
                        }
                        "output" => {
                            if let Some(a) = block.body.get_attribute("value") {
                                m.outputs.insert(label(block, 0), (id, &a.value));
                            }
                        }
                        "resource" if block.labels.len() == 2 => {
                            m.resource_index
                                .insert((label(block, 0), label(block, 1)), m.resources.len());
                            m.resources.push((id, block));
                        }
                        "provider" if block.labels.len() == 1 => {
                            m.providers.push((id, block));
                        }
                        "module" if block.labels.len() == 1 => {
                            m.call_index.insert(label(block, 0), m.calls.len());
                            m.calls.push((id, block));
                        }
                        _ => {}
                    }
                }
            }
            m
        })
        .collect()
}

/// The instance key of a `count`/`for_each` instance.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Key {
    None,
    Int(usize),
    Str(String),
}

impl Key {
    fn suffix(&self) -> String {
        match self {
            Key::None => String::new(),
            Key::Int(i) => format!("[{i}]"),
            Key::Str(s) => format!("[{s:?}]"),
        }
    }
}

/// What a memo slot holds.
enum Slot<T> {
    InProgress,
    Done(T),
}

/// One evaluated resource instance.
#[derive(Clone)]
struct ResInst {
    key: Key,
    attrs: Val,
}

/// A memoized value, shared by every reference (a reference to part of it
/// copies only that part).
pub(crate) type Shared = Rc<EvalResult>;

/// One instance of a module call: its key and the child module instance
/// (`None` for a source neither local nor in the module cache, a cycle or
/// too deep a nesting).
type CallInst = (Key, Option<usize>);

/// Who called a module instance, to evaluate its input variables lazily.
struct Caller<'a> {
    parent: usize,
    file: usize,
    block: &'a Block,
    binds: Vec<(String, Val)>,
}

/// One instance of a module: the root, or one `count`/`for_each` instance
/// of a `module` call.
struct Inst<'a> {
    module: usize,
    /// `module.a.` / `module.a["k"].module.b.`; empty for a root.
    prefix: String,
    /// The module key in the root's module cache manifest: `a`, `a.b`
    /// (call names without instance keys); empty for a root.
    module_key: String,
    caller: Option<Caller<'a>>,
    /// Directories from the root down to this one (cycle detection).
    chain: Vec<String>,
    root_vars: HashMap<String, Val>,
    vars: HashMap<String, Slot<Shared>>,
    locals: HashMap<String, Slot<Shared>>,
    outputs: HashMap<String, Slot<EvalResult>>,
    resources: HashMap<usize, Slot<Rc<Vec<ResInst>>>>,
    /// Per call: the instances (`None` child for a source neither
    /// local nor in the module cache).
    calls: HashMap<usize, Slot<Vec<CallInst>>>,
}

impl<'a> Inst<'a> {
    fn new(
        module: usize,
        prefix: String,
        caller: Option<Caller<'a>>,
        chain: Vec<String>,
        module_key: String,
    ) -> Self {
        Inst {
            module,
            prefix,
            module_key,
            caller,
            chain,
            root_vars: HashMap::new(),
            vars: HashMap::new(),
            locals: HashMap::new(),
            outputs: HashMap::new(),
            resources: HashMap::new(),
            calls: HashMap::new(),
        }
    }
}

/// The evaluation of one `evaluate` call.
pub(crate) struct Ctx<'a> {
    inputs: &'a TfInputs,
    manifests: &'a Manifests,
    files: &'a [&'a SrcFile],
    modules: Vec<Module<'a>>,
    texts: &'a HashMap<String, String>,
    insts: RefCell<Vec<Inst<'a>>>,
    errors: RefCell<Vec<ParseError>>,
    local_stack: RefCell<Vec<(usize, String)>>,
}

impl<'a> Ctx<'a> {
    fn new_inst(&self, inst: Inst<'a>) -> usize {
        let mut insts = self.insts.borrow_mut();
        insts.push(inst);
        insts.len() - 1
    }

    fn module_of(&self, inst: usize) -> &Module<'a> {
        &self.modules[self.insts.borrow()[inst].module]
    }

    fn prefix(&self, inst: usize) -> String {
        self.insts.borrow()[inst].prefix.clone()
    }

    fn error(&self, file: usize, offset: usize, message: String) {
        let f = &self.files[file];
        let (line, column) = f.position(offset);
        self.errors.borrow_mut().push(ParseError {
            file: f.path.clone(),
            line,
            column,
            message,
        });
    }

    /// Evaluates every resource of `inst` and of its module calls, in file
    /// order, into `out`; then the module's `provider` blocks, each as a
    /// `TfResource` of kind `provider.<name>` (see [`PROVIDER_KIND_PREFIX`]).
    fn collect(&self, inst: usize, out: &mut Vec<TfResource>) {
        let module = self.insts.borrow()[inst].module;
        let m = &self.modules[module];
        let prefix = self.prefix(inst);
        let root = self.insts.borrow()[inst]
            .chain
            .first()
            .cloned()
            .unwrap_or_else(|| m.dir.clone());
        for (ri, &(file, block)) in m.resources.iter().enumerate() {
            let kind = label(block, 0).to_string();
            let name = label(block, 1).to_string();
            let f = &self.files[file];
            let (line, end_line) = f.lines_of(block.span());
            let suppressed = f.suppressions(line, end_line);
            for ri in self.resource(inst, ri).iter() {
                out.push(TfResource {
                    address: format!("{prefix}{kind}.{name}{}", ri.key.suffix()),
                    kind: kind.clone(),
                    name: name.clone(),
                    file: f.path.clone(),
                    root: root.clone(),
                    line: line as u32,
                    end_line: end_line as u32,
                    attrs: ri.attrs.clone(),
                    suppressed: suppressed.clone(),
                });
            }
        }
        for &(file, block) in &m.providers {
            let name = label(block, 0).to_string();
            let f = &self.files[file];
            let (line, end_line) = f.lines_of(block.span());
            let attrs = Env::new(self, inst, file).body(&block.body, &[]);
            let alias = attrs.get("alias").and_then(Val::as_str).map(str::to_string);
            out.push(TfResource {
                address: match alias {
                    Some(a) => format!("{prefix}provider.{name}.{a}"),
                    None => format!("{prefix}provider.{name}"),
                },
                kind: format!("{PROVIDER_KIND_PREFIX}{name}"),
                name,
                file: f.path.clone(),
                root: root.clone(),
                line: line as u32,
                end_line: end_line as u32,
                attrs,
                suppressed: f.suppressions(line, end_line),
            });
        }
        for ci in 0..m.calls.len() {
            for (_, child) in self.call(inst, ci) {
                if let Some(child) = child {
                    self.collect(child, out);
                }
            }
        }
    }

    /// The instances of resource `ri` of `inst` (memoized).
    fn resource(&self, inst: usize, ri: usize) -> Rc<Vec<ResInst>> {
        match self.insts.borrow()[inst].resources.get(&ri) {
            Some(Slot::Done(v)) => return Rc::clone(v),
            Some(Slot::InProgress) => return Rc::new(Vec::new()),
            None => {}
        }
        self.insts.borrow_mut()[inst]
            .resources
            .insert(ri, Slot::InProgress);
        let (file, block) = self.module_of(inst).resources[ri];
        let env = Env::new(self, inst, file);
        let instances = self
            .instances(&env, &block.body)
            .into_iter()
            .map(|(key, binds)| {
                let env = env.with(binds);
                ResInst {
                    key,
                    attrs: env.body(&block.body, RESOURCE_META),
                }
            })
            .collect::<Vec<_>>();
        let instances = Rc::new(instances);
        self.insts.borrow_mut()[inst]
            .resources
            .insert(ri, Slot::Done(Rc::clone(&instances)));
        instances
    }

    /// The instance keys and `count`/`each` bindings a block's `count` or
    /// `for_each` gives. An unknown count or collection gives one instance
    /// whose `count.index`/`each` are unknown (the block is still checked).
    fn instances(&self, env: &Env<'_, 'a>, body: &Body) -> Vec<(Key, Vec<(String, Val)>)> {
        if let Some(a) = body.get_attribute("count") {
            return match env.eval(&a.value) {
                Ok(Val::Number(n)) if n >= 0.0 => (0..n as usize)
                    .map(|i| (Key::Int(i), vec![count_bind(Val::Number(i as f64))]))
                    .collect(),
                _ => vec![(Key::None, vec![count_bind(Val::unknown("count.index"))])],
            };
        }
        if let Some(a) = body.get_attribute("for_each") {
            let unknown = || {
                vec![(
                    Key::None,
                    vec![each_bind(
                        Val::unknown("each.key"),
                        Val::unknown("each.value"),
                    )],
                )]
            };
            return match env.eval(&a.value) {
                Ok(Val::Map(m)) => m
                    .into_iter()
                    .map(|(k, v)| (Key::Str(k.clone()), vec![each_bind(Val::String(k), v)]))
                    .collect(),
                Ok(Val::List(items)) => {
                    let mut keys = BTreeSet::new();
                    // A set of strings (numbers and bools convert, as
                    // Terraform converts them); anything else, unknown.
                    for item in &items {
                        match item.to_display() {
                            Some(s) => {
                                keys.insert(s);
                            }
                            None => return unknown(),
                        }
                    }
                    keys.into_iter()
                        .map(|k| {
                            (
                                Key::Str(k.clone()),
                                vec![each_bind(Val::String(k.clone()), Val::String(k))],
                            )
                        })
                        .collect()
                }
                _ => unknown(),
            };
        }
        vec![(Key::None, Vec::new())]
    }

    /// The instances of module call `ci` of `inst` (memoized), with their
    /// child module instances (`None` for a source neither local nor in the
    /// module cache, or a cycle).
    fn call(&self, inst: usize, ci: usize) -> Vec<CallInst> {
        match self.insts.borrow()[inst].calls.get(&ci) {
            Some(Slot::Done(v)) => return v.clone(),
            Some(Slot::InProgress) => return Vec::new(),
            None => {}
        }
        self.insts.borrow_mut()[inst]
            .calls
            .insert(ci, Slot::InProgress);
        let (file, block) = self.module_of(inst).calls[ci];
        let env = Env::new(self, inst, file);
        let dir = self.module_of(inst).dir.clone();
        let name = label(block, 0);
        let (chain, module_key) = {
            let insts = self.insts.borrow();
            let parent = &insts[inst];
            let module_key = if parent.module_key.is_empty() {
                name.to_string()
            } else {
                format!("{}.{name}", parent.module_key)
            };
            (parent.chain.clone(), module_key)
        };
        // A local source names a directory; another is found in the root's
        // module cache, when `terraform init` downloaded it.
        let target = local_source(&dir, block)
            .or_else(|| {
                let root = chain.first()?;
                self.manifests.dir(root, &module_key).map(str::to_string)
            })
            .and_then(|d| self.modules.iter().position(|m| m.dir == d));
        let target = target.filter(|&t| {
            let tdir = &self.modules[t].dir;
            let offset = block.span().map_or(0, |s| s.start);
            if chain.contains(tdir) {
                let start = chain.iter().position(|d| d == tdir).unwrap_or(0);
                let cycle: Vec<String> = chain[start..]
                    .iter()
                    .chain(std::iter::once(tdir))
                    .map(|d| display_dir(d))
                    .collect();
                self.error(file, offset, format!("module cycle: {}", cycle.join(" -> ")));
                false
            } else if chain.len() >= MAX_MODULE_DEPTH {
                self.error(
                    file,
                    offset,
                    format!(
                        "modules nested deeper than {MAX_MODULE_DEPTH} levels at module \"{}\"; not evaluated",
                        label(block, 0)
                    ),
                );
                false
            } else {
                true
            }
        });
        let prefix = self.prefix(inst);
        let result: Vec<CallInst> = self
            .instances(&env, &block.body)
            .into_iter()
            .map(|(key, binds)| {
                let child = target.map(|t| {
                    let mut chain = chain.clone();
                    chain.push(self.modules[t].dir.clone());
                    self.new_inst(Inst::new(
                        t,
                        format!("{prefix}module.{name}{}.", key.suffix()),
                        Some(Caller {
                            parent: inst,
                            file,
                            block,
                            binds,
                        }),
                        chain,
                        module_key.clone(),
                    ))
                });
                (key, child)
            })
            .collect();
        self.insts.borrow_mut()[inst]
            .calls
            .insert(ci, Slot::Done(result.clone()));
        result
    }

    /// `var.NAME` in `inst` (memoized).
    fn var(&self, inst: usize, name: &str) -> Shared {
        match self.insts.borrow()[inst].vars.get(name) {
            Some(Slot::Done(v)) => return Rc::clone(v),
            Some(Slot::InProgress) => return Rc::new(Err(format!("var.{name} refers to itself"))),
            None => {}
        }
        self.insts.borrow_mut()[inst]
            .vars
            .insert(name.to_string(), Slot::InProgress);
        let v = Rc::new(self.compute_var(inst, name));
        self.insts.borrow_mut()[inst]
            .vars
            .insert(name.to_string(), Slot::Done(Rc::clone(&v)));
        v
    }

    fn compute_var(&self, inst: usize, name: &str) -> EvalResult {
        let Some(&(file, decl)) = self.module_of(inst).variables.get(name) else {
            return Err(format!("reference to undeclared input variable var.{name}"));
        };
        let given = {
            let insts = self.insts.borrow();
            let i = &insts[inst];
            match &i.caller {
                None => i.root_vars.get(name).cloned().map(Given::Val),
                Some(c) => c
                    .block
                    .body
                    .get_attribute(name)
                    .map(|a| Given::Expr(c.parent, c.file, &a.value, c.binds.clone())),
            }
        };
        let value = match given {
            Some(Given::Val(v)) => Some(v),
            Some(Given::Expr(parent, f, e, binds)) => {
                Some(Env::new(self, parent, f).with(binds).eval_or_unknown(e))
            }
            None => None,
        };
        // A null argument is null, unless the variable is `nullable = false`:
        // then it takes the default, as an omitted one does.
        let nullable = decl
            .body
            .get_attribute("nullable")
            .is_none_or(|a| a.value.as_bool() != Some(false));
        match value {
            Some(Val::Null) if nullable => Ok(Val::Null),
            Some(Val::Null) | None => match decl.body.get_attribute("default") {
                Some(d) => Ok(Env::new(self, inst, file).eval_or_unknown(&d.value)),
                None if value.is_some() => Ok(Val::Null),
                None => Ok(Val::unknown(format!("var.{name}"))),
            },
            Some(v) => Ok(v),
        }
    }

    /// `local.NAME` in `inst` (memoized; a cycle is reported once).
    fn local(&self, inst: usize, name: &str) -> Shared {
        match self.insts.borrow()[inst].locals.get(name) {
            Some(Slot::Done(v)) => return Rc::clone(v),
            Some(Slot::InProgress) => {
                let stack = self.local_stack.borrow();
                let start = stack
                    .iter()
                    .position(|(i, n)| *i == inst && n == name)
                    .unwrap_or(0);
                let cycle: Vec<String> = stack[start..]
                    .iter()
                    .map(|(_, n)| format!("local.{n}"))
                    .chain(std::iter::once(format!("local.{name}")))
                    .collect();
                let message = format!("cycle in locals: {}", cycle.join(" -> "));
                if let Some(&(file, e)) = self.module_of(inst).locals.get(name) {
                    self.error(file, e.span().map_or(0, |s| s.start), message.clone());
                }
                return Rc::new(Err(message));
            }
            None => {}
        }
        let Some(&(file, e)) = self.module_of(inst).locals.get(name) else {
            return Rc::new(Err(format!(
                "reference to undeclared local value local.{name}"
            )));
        };
        self.insts.borrow_mut()[inst]
            .locals
            .insert(name.to_string(), Slot::InProgress);
        self.local_stack.borrow_mut().push((inst, name.to_string()));
        let v = Rc::new(Env::new(self, inst, file).eval(e));
        self.local_stack.borrow_mut().pop();
        self.insts.borrow_mut()[inst]
            .locals
            .insert(name.to_string(), Slot::Done(Rc::clone(&v)));
        v
    }

    /// Output `name` of a module instance (memoized).
    fn output(&self, inst: usize, name: &str) -> EvalResult {
        match self.insts.borrow()[inst].outputs.get(name) {
            Some(Slot::Done(v)) => return v.clone(),
            Some(Slot::InProgress) => return Err(format!("output {name} refers to itself")),
            None => {}
        }
        let Some(&(file, e)) = self.module_of(inst).outputs.get(name) else {
            return Err(format!("the module has no output \"{name}\""));
        };
        self.insts.borrow_mut()[inst]
            .outputs
            .insert(name.to_string(), Slot::InProgress);
        let v = Ok(Env::new(self, inst, file).eval_or_unknown(e));
        self.insts.borrow_mut()[inst]
            .outputs
            .insert(name.to_string(), Slot::Done(v.clone()));
        v
    }

    /// All outputs of a module instance as an object.
    fn outputs(&self, inst: usize) -> Val {
        let names: Vec<&str> = self.module_of(inst).outputs.keys().copied().collect();
        Val::Map(
            names
                .into_iter()
                .map(|n| {
                    let v = self.output(inst, n).unwrap_or_else(Val::unknown);
                    (n.to_string(), v)
                })
                .collect(),
        )
    }

    /// The text of a file `file()` may read, relative to the current
    /// directory or to module directory `dir`.
    fn read(&self, dir: &str, path: &str) -> Option<String> {
        files::read(self.texts, dir, path)
    }
}

enum Given<'b> {
    Val(Val),
    Expr(usize, usize, &'b Expression, Vec<(String, Val)>),
}

/// The kind of the [`TfResource`] of a `provider "NAME"` block is this
/// prefix and the name (`provider.aws`); its address is `provider.aws`, or
/// `provider.aws.ALIAS` with an `alias`, after any module prefix.
pub const PROVIDER_KIND_PREFIX: &str = "provider.";

/// Arguments and blocks of a resource that are Terraform's, not the
/// provider's: not part of `TfResource::attrs`.
const RESOURCE_META: &[&str] = &[
    "count",
    "for_each",
    "provider",
    "depends_on",
    "lifecycle",
    "provisioner",
    "connection",
];

fn count_bind(index: Val) -> (String, Val) {
    let mut m = BTreeMap::new();
    m.insert("index".to_string(), index);
    ("count".to_string(), Val::Map(m))
}

fn each_bind(key: Val, value: Val) -> (String, Val) {
    let mut m = BTreeMap::new();
    m.insert("key".to_string(), key);
    m.insert("value".to_string(), value);
    ("each".to_string(), Val::Map(m))
}

/// The directory a `module` block's `source` names when it is a local path
/// (`./x`, `../x`), joined to the caller's directory.
fn local_source(dir: &str, block: &Block) -> Option<String> {
    let source = block.body.get_attribute("source")?.value.as_str()?;
    (source.starts_with("./") || source.starts_with("../") || source == "." || source == "..")
        .then(|| join(dir, source))
}
