//! Terraform's module cache: the modules `terraform init` downloaded
//! (registry, git, HTTP sources) into `<root>/.terraform/modules/`, listed in
//! `<root>/.terraform/modules/modules.json`:
//!
//! ```json
//! {"Modules":[{"Key":"","Source":"","Dir":"."},
//!   {"Key":"bucket","Source":"registry.terraform.io/cloudposse/s3-bucket/aws","Dir":".terraform/modules/bucket"},
//!   {"Key":"bucket.this","Source":"registry.terraform.io/cloudposse/label/null","Dir":".terraform/modules/bucket.this"}]}
//! ```
//!
//! `Key` is the path of module call names from the root, joined by `.`
//! (without instance keys); `Dir` is relative to the root module.

use super::files::{dir_of, join};
use crate::ParseError;
use std::collections::HashMap;

/// The manifest's path under a root module directory.
const MANIFEST: &str = ".terraform/modules/modules.json";

/// Whether `path` is a module cache manifest
/// (`<root>/.terraform/modules/modules.json`).
pub fn is_module_manifest(path: &str) -> bool {
    let path = path.replace('\\', "/");
    path == MANIFEST
        || path
            .strip_suffix(MANIFEST)
            .is_some_and(|root| root.ends_with('/'))
}

/// Whether a module directory lies in a module cache (has a `.terraform`
/// component followed by `modules`): such a directory is reached only
/// through the module calls of its root, never evaluated as a root itself.
pub(crate) fn in_module_cache(dir: &str) -> bool {
    let parts: Vec<&str> = dir.split('/').collect();
    parts
        .windows(2)
        .any(|w| w[0] == ".terraform" && w[1] == "modules")
}

/// The module cache manifests among the scanned files, by root directory.
#[derive(Default)]
pub(crate) struct Manifests {
    /// Root module directory → module key → module directory (normalized,
    /// like the directories of the scanned files).
    by_root: HashMap<String, HashMap<String, String>>,
}

impl Manifests {
    /// Reads the manifests among `files`; one that is not a manifest of the
    /// expected shape is reported and ignored (its modules stay unknown).
    pub(crate) fn read(files: &[(String, String)], errors: &mut Vec<ParseError>) -> Self {
        let mut out = Manifests::default();
        for (path, text) in files.iter().filter(|(p, _)| is_module_manifest(p)) {
            // `<root>/.terraform/modules/modules.json` → `<root>`.
            let root = join(&dir_of(path), "../..");
            let keys = out.by_root.entry(root.clone()).or_default();
            for entry in entries(path, text, errors) {
                keys.insert(entry.0, join(&root, &entry.1.replace('\\', "/")));
            }
        }
        out
    }

    /// The directory of the module with key `key` (`bucket`, `bucket.this`)
    /// in the root module `root`'s cache.
    pub(crate) fn dir(&self, root: &str, key: &str) -> Option<&str> {
        self.by_root.get(root)?.get(key).map(String::as_str)
    }

    /// Every module directory the manifest of root `root` lists, except the
    /// root itself.
    pub(crate) fn dirs<'s>(&'s self, root: &'s str) -> impl Iterator<Item = &'s str> {
        self.by_root
            .get(root)
            .into_iter()
            .flat_map(|keys| keys.values())
            .map(String::as_str)
            .filter(move |d| *d != root)
    }
}

/// What a manifest that cannot be read means, and what to do.
const NOT_SCANNED: &str =
    "the modules it lists are not scanned: run `terraform init` again to rewrite it";

/// The (Key, Dir) entries of a manifest; problems go to `errors`.
fn entries(path: &str, text: &str, errors: &mut Vec<ParseError>) -> Vec<(String, String)> {
    let error = |line, column, message: String| ParseError {
        file: path.to_string(),
        line,
        column,
        message,
    };
    let json: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            errors.push(error(
                e.line(),
                e.column(),
                format!("invalid module manifest: {e}; {NOT_SCANNED}"),
            ));
            return Vec::new();
        }
    };
    let Some(modules) = json.get("Modules").and_then(|m| m.as_array()) else {
        errors.push(error(
            1,
            1,
            format!("invalid module manifest: expected an object with a \"Modules\" list; {NOT_SCANNED}"),
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, m) in modules.iter().enumerate() {
        let key = m.get("Key").and_then(|k| k.as_str());
        let dir = m.get("Dir").and_then(|d| d.as_str());
        match (key, dir) {
            (Some(key), Some(dir)) => out.push((key.to_string(), dir.to_string())),
            _ => errors.push(error(
                1,
                1,
                format!(
                    "invalid module manifest: entry {} of \"Modules\" has no string \"Key\" \
                     and \"Dir\"; that module is not scanned: run `terraform init` again",
                    i + 1
                ),
            )),
        }
    }
    out
}
