//! Finding the files to scan: files, directories and archives.
//!
//! This is the only part of `vigil-iac` that touches the file system. [`gather`]
//! turns the paths given on the command line into the texts of the files to
//! scan ([`SourceFile`]) and the problems met on the way ([`SourceError`]);
//! a problem never stops the walk.
//!
//! - A directory is walked recursively in name order. Symbolic links to
//!   directories are not followed; hidden directories (`.git`, `.terraform`, …)
//!   are skipped, except the module cache `terraform init` writes,
//!   `.terraform/modules/`: its `.tf` files and its manifest
//!   `.terraform/modules/modules.json` are read (not the providers, not the
//!   other files of the downloaded modules, not the hidden directories in
//!   it), so that the evaluator can expand registry, git and HTTP modules.
//! - Only files [`is_scannable`] accepts are read; others are ignored silently
//!   (a file given by name that is neither scannable nor an archive is
//!   reported).
//! - Archives (`.zip`, `.7z`, `.tar`, `.tar.gz`/`.tgz`, and `.gz` holding a
//!   single file) are read in memory, never extracted to disk. Their files are
//!   named `<archive path>!/<entry path>`, so the directory structure inside the
//!   archive is kept. An archive inside an archive is not opened.
//! - An archive is refused as a whole (no file from it, one error naming the
//!   entry and the reason) when an entry could escape the scan directory (an
//!   absolute path, a drive letter, a `..` component), is not a regular file or
//!   directory (a symbolic or hard link, a device), or when decompression
//!   passes one of the [`Limits`] — counted on the bytes actually
//!   decompressed, never on the sizes the archive declares.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use regex::Regex;

/// Bounds on what reading an archive may cost; they stop decompression bombs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most entries (files, directories, links) one archive may hold.
    pub max_files: usize,
    /// Largest file, plain or in an archive, that is read (bytes).
    pub max_file_bytes: u64,
    /// Most bytes decompressed from one archive, all entries together.
    pub max_total_bytes: u64,
    /// Most bytes decompressed from one archive per byte of the archive.
    pub max_ratio: u64,
}

impl Default for Limits {
    /// 20 000 entries, 16 MiB per file, 256 MiB decompressed per archive,
    /// 200 decompressed bytes per archive byte.
    fn default() -> Self {
        Limits {
            max_files: 20_000,
            max_file_bytes: 16 << 20,
            max_total_bytes: 256 << 20,
            max_ratio: 200,
        }
    }
}

/// A file to scan and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path as reached from the given argument (`infra/main.tf` when given
    /// `infra`), or `<archive path>!/<entry path>` for a file in an archive.
    pub path: String,
    /// The file's UTF-8 text (without a leading byte-order mark).
    pub text: String,
}

/// A file, directory or archive that could not be read, or a note about one
/// that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// The path, in the same form as [`SourceFile::path`].
    pub path: String,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for SourceError {}

/// What [`gather`] found: the files in a deterministic order, and the problems.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gathered {
    /// The files to scan, in argument order, each directory in name order.
    pub files: Vec<SourceFile>,
    /// Paths that could not be read or were skipped, with the reason.
    pub errors: Vec<SourceError>,
}

impl Gathered {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(SourceError {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// The extensions of the files Vigil scans.
const SCANNABLE: &[&str] = &[
    ".tf",
    ".tfvars",
    ".tfvars.json",
    ".json",
    ".yaml",
    ".yml",
    ".template",
];

/// Whether a file is scanned, by its extension (`.tf`, `.tfvars`,
/// `.tfvars.json`, `.json`, `.yaml`, `.yml`, `.template`; ASCII case ignored).
pub fn is_scannable(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    SCANNABLE.iter().any(|ext| lower.ends_with(ext))
}

/// The archive formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArchiveKind {
    Zip,
    SevenZ,
    Tar,
    TarGz,
    /// A single gzip-compressed file.
    Gz,
}

fn archive_kind(path: &str) -> Option<ArchiveKind> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        Some(ArchiveKind::TarGz)
    } else if lower.ends_with(".gz") {
        Some(ArchiveKind::Gz)
    } else if lower.ends_with(".tar") {
        Some(ArchiveKind::Tar)
    } else if lower.ends_with(".zip") {
        Some(ArchiveKind::Zip)
    } else if lower.ends_with(".7z") {
        Some(ArchiveKind::SevenZ)
    } else {
        None
    }
}

/// Reads the given files and directories (and the archives among and in them)
/// into the files to scan. `filter`, when given, keeps only the files whose
/// full path (as in [`SourceFile::path`]) it matches. Never fails: every
/// problem is an entry of [`Gathered::errors`], and the other files are read.
pub fn gather(paths: &[PathBuf], filter: Option<&Regex>, limits: &Limits) -> Gathered {
    let mut walker = Walker {
        filter,
        limits,
        out: Gathered::default(),
    };
    for path in paths {
        walker.argument(path);
    }
    walker.out
}

/// The directory holding Terraform's module cache, under `.terraform/`.
const MODULE_CACHE: &str = "modules";

/// The module cache's manifest, at its top.
const MODULE_MANIFEST: &str = "modules.json";

/// Where a directory being walked lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    /// Anywhere but the module cache.
    Plain,
    /// In `.terraform/modules/`; `top` for that directory itself.
    ModuleCache { top: bool },
}

impl Area {
    /// The area of a subdirectory (not hidden) of a directory of this area.
    fn below(self) -> Area {
        match self {
            Area::Plain => Area::Plain,
            Area::ModuleCache { .. } => Area::ModuleCache { top: false },
        }
    }

    /// Whether a file named `name` in a directory of this area is read: in
    /// the module cache only `.tf` files and, at its top, the manifest.
    fn admits(self, name: &str) -> bool {
        match self {
            Area::Plain => true,
            Area::ModuleCache { top } => {
                name.to_ascii_lowercase().ends_with(".tf") || (top && name == MODULE_MANIFEST)
            }
        }
    }
}

struct Walker<'a> {
    filter: Option<&'a Regex>,
    limits: &'a Limits,
    out: Gathered,
}

impl Walker<'_> {
    fn wanted(&self, display: &str) -> bool {
        self.filter.is_none_or(|re| re.is_match(display))
    }

    /// A path given by the user: followed even when it is a symbolic link.
    fn argument(&mut self, path: &Path) {
        let display = path.to_string_lossy().into_owned();
        match fs::metadata(path) {
            Err(e) => self.out.error(
                display,
                format!("cannot read: {e}; check the path given to scan"),
            ),
            Ok(meta) if meta.is_dir() => self.directory(path, Area::Plain),
            Ok(_) => {
                if archive_kind(&display).is_none() && !is_scannable(&display) {
                    self.out.error(display, not_scannable());
                } else {
                    self.file(path, display);
                }
            }
        }
    }

    fn directory(&mut self, dir: &Path, area: Area) {
        let display = dir.to_string_lossy().into_owned();
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                return self.out.error(
                    display,
                    format!("cannot list directory: {e}; check its permissions"),
                )
            }
        };
        let mut children = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => children.push(entry),
                Err(e) => self.out.error(
                    display.clone(),
                    format!("cannot list directory: {e}; check its permissions"),
                ),
            }
        }
        children.sort_by_key(|entry| entry.file_name());
        for entry in children {
            let path = entry.path();
            let name = entry.file_name();
            let child_display = path.to_string_lossy().into_owned();
            let file_type = match entry.file_type() {
                Ok(t) => t,
                Err(e) => {
                    self.out.error(child_display, format!("cannot read: {e}"));
                    continue;
                }
            };
            let name = name.to_string_lossy();
            if file_type.is_dir() {
                if !name.starts_with('.') {
                    self.directory(&path, area.below());
                } else if area == Area::Plain && name == ".terraform" {
                    self.module_cache(&path);
                }
            } else if !area.admits(&name) {
                // Another file of a downloaded module.
            } else if file_type.is_symlink() {
                // A link to a file is read; a link to a directory is not followed.
                match fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => self.file(&path, child_display),
                    Ok(_) => {}
                    Err(e) => {
                        if is_scannable(&child_display) || archive_kind(&child_display).is_some() {
                            self.out.error(
                                child_display,
                                format!("cannot read the link's target: {e}"),
                            );
                        }
                    }
                }
            } else if file_type.is_file() {
                self.file(&path, child_display);
            }
        }
    }

    /// The module cache in a `.terraform` directory, when it is a directory
    /// (a symbolic link is not followed).
    fn module_cache(&mut self, dot_terraform: &Path) {
        let modules = dot_terraform.join(MODULE_CACHE);
        if fs::symlink_metadata(&modules).is_ok_and(|meta| meta.is_dir()) {
            self.directory(&modules, Area::ModuleCache { top: true });
        }
    }

    /// A regular file: an archive is opened, a scannable file read, another
    /// file ignored.
    fn file(&mut self, path: &Path, display: String) {
        if let Some(kind) = archive_kind(&display) {
            return self.archive(path, display, kind);
        }
        if !is_scannable(&display) || !self.wanted(&display) {
            return;
        }
        let read = File::open(path).and_then(|f| {
            let len = f.metadata()?.len();
            if len > self.limits.max_file_bytes {
                return Ok(Err(too_large(len, self.limits)));
            }
            read_capped(f, self.limits.max_file_bytes)
        });
        match read {
            Err(e) => self.out.error(display, format!("cannot read: {e}")),
            Ok(Err(message)) => self.out.error(display, message),
            Ok(Ok(bytes)) => match text(bytes) {
                Ok(text) => self.out.files.push(SourceFile {
                    path: display,
                    text,
                }),
                Err(message) => self.out.error(display, message),
            },
        }
    }

    fn archive(&mut self, path: &Path, display: String, kind: ArchiveKind) {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => return self.out.error(display, format!("cannot read archive: {e}")),
        };
        let compressed = match file.metadata() {
            Ok(meta) => meta.len(),
            Err(e) => return self.out.error(display, format!("cannot read archive: {e}")),
        };
        self.read_archive(BufReader::new(file), compressed, display, kind);
    }

    /// Reads an archive of `compressed` bytes from `reader`.
    fn read_archive<R: Read + Seek>(
        &mut self,
        reader: R,
        compressed: u64,
        display: String,
        kind: ArchiveKind,
    ) {
        let mut scan = ArchiveScan::new(&display, compressed, self.filter, self.limits);
        let result = match kind {
            ArchiveKind::Zip => scan.zip(reader),
            ArchiveKind::SevenZ => scan.seven_z(reader),
            ArchiveKind::Tar => scan.tar(reader),
            ArchiveKind::TarGz => scan.tar(flate2::read::MultiGzDecoder::new(reader)),
            ArchiveKind::Gz => scan.gz(reader, &display),
        };
        match result {
            Ok(()) => {
                let mut found = scan.out;
                found.files.sort_by(|a, b| a.path.cmp(&b.path));
                self.out.files.append(&mut found.files);
                self.out.errors.append(&mut found.errors);
            }
            Err(refusal) => self.out.error(display, refusal.0),
        }
    }

    /// A file held in memory, named `name`: an archive is opened, a
    /// scannable file taken, another file reported.
    fn bytes(&mut self, name: &str, bytes: &[u8]) {
        if let Some(kind) = archive_kind(name) {
            let reader = io::Cursor::new(bytes);
            return self.read_archive(reader, bytes.len() as u64, name.to_string(), kind);
        }
        if !is_scannable(name) {
            return self.out.error(name, not_scannable());
        }
        if !self.wanted(name) {
            return;
        }
        if bytes.len() as u64 > self.limits.max_file_bytes {
            return self
                .out
                .error(name, too_large(bytes.len() as u64, self.limits));
        }
        match text(bytes.to_vec()) {
            Ok(text) => self.out.files.push(SourceFile {
                path: name.to_string(),
                text,
            }),
            Err(message) => self.out.error(name, message),
        }
    }
}

/// Reads one file held in memory (an upload) into `out`, as [`gather`]
/// reads a file given by name: an archive (by the extension of `name`) is
/// read in memory with the same [`Limits`] and refusals, its files named
/// `<name>!/<entry path>`; a scannable file is taken under `name`; any
/// other file is an error. `filter` keeps only the files whose path it
/// matches.
pub fn gather_bytes(
    name: &str,
    bytes: &[u8],
    filter: Option<&Regex>,
    limits: &Limits,
    out: &mut Gathered,
) {
    let mut walker = Walker {
        filter,
        limits,
        out: std::mem::take(out),
    };
    walker.bytes(name, bytes);
    *out = walker.out;
}

/// Whether `path` names an archive Vigil reads (`.zip`, `.7z`, `.tar`,
/// `.tar.gz`, `.tgz`, `.gz`; ASCII case ignored).
pub fn is_archive(path: &str) -> bool {
    archive_kind(path).is_some()
}

impl SourceError {
    /// Whether this is an archive refused as a whole (an unsafe entry or a
    /// passed limit), as opposed to a file that could not be read.
    pub fn is_refusal(&self) -> bool {
        self.message.starts_with(REFUSED)
    }
}

fn not_scannable() -> String {
    format!(
        "not a file Vigil scans: give a file ending in {} or an archive \
         (.zip, .7z, .tar, .tar.gz, .tgz, .gz), or a directory",
        SCANNABLE.join(", ")
    )
}

/// Why a whole archive is refused (the message, without the archive's path).
#[derive(Debug)]
struct Refusal(String);

const REFUSED: &str = "archive refused, no file read from it";

/// What an archive entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    File,
    Directory,
    Symlink,
    HardLink,
    /// A device, FIFO, socket or another special file.
    Special,
}

/// The kind of an entry from Unix mode bits (`S_IFMT`); no type bits is a file.
fn kind_from_mode(mode: u32) -> EntryKind {
    match mode & 0o170_000 {
        0o120_000 => EntryKind::Symlink,
        0o040_000 => EntryKind::Directory,
        0 | 0o100_000 => EntryKind::File,
        _ => EntryKind::Special,
    }
}

/// Counts the bytes decompressed from one archive and fails a read once a
/// limit is passed, so decompression stops there.
struct Counted<R> {
    inner: R,
    count: Rc<Cell<u64>>,
    stop_after: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.count.get().saturating_add(n as u64);
        self.count.set(total);
        if total > self.stop_after {
            return Err(io::Error::other("decompression limit passed"));
        }
        Ok(n)
    }
}

/// One archive being read: the checks every format shares and what was found.
struct ArchiveScan<'a> {
    display: &'a str,
    compressed: u64,
    filter: Option<&'a Regex>,
    limits: &'a Limits,
    entries: usize,
    decompressed: Rc<Cell<u64>>,
    out: Gathered,
}

impl<'a> ArchiveScan<'a> {
    fn new(
        display: &'a str,
        compressed: u64,
        filter: Option<&'a Regex>,
        limits: &'a Limits,
    ) -> Self {
        ArchiveScan {
            display,
            compressed,
            filter,
            limits,
            entries: 0,
            decompressed: Rc::new(Cell::new(0)),
            out: Gathered::default(),
        }
    }

    /// Wraps a decompressing reader so that its bytes count against the limits.
    fn counted<R: Read>(&self, inner: R) -> Counted<R> {
        Counted {
            inner,
            count: Rc::clone(&self.decompressed),
            stop_after: self
                .limits
                .max_total_bytes
                .min(self.compressed.max(1).saturating_mul(self.limits.max_ratio)),
        }
    }

    /// The refusal for a passed size or ratio limit, if one was passed.
    fn limit_passed(&self, entry: &str) -> Option<Refusal> {
        let total = self.decompressed.get();
        let what = if total > self.limits.max_total_bytes {
            format!(
                "more than {} bytes decompressed",
                self.limits.max_total_bytes
            )
        } else if total > self.compressed.max(1).saturating_mul(self.limits.max_ratio) {
            format!(
                "more than {} times the archive's {} bytes decompressed",
                self.limits.max_ratio, self.compressed
            )
        } else {
            return None;
        };
        Some(Refusal(format!(
            "{REFUSED}: {what} at entry \"{entry}\" (possible decompression bomb); \
             extract it yourself and scan the directory if the archive is trusted"
        )))
    }

    /// A read error while decompressing `entry`: a passed limit, or a damaged
    /// archive.
    fn read_failed(&self, entry: &str, error: impl fmt::Display) -> Refusal {
        self.limit_passed(entry).unwrap_or_else(|| {
            Refusal(format!(
                "{REFUSED}: cannot read entry \"{entry}\": {error}; check that the archive is \
                 complete and not encrypted"
            ))
        })
    }

    /// Checks an entry's name and kind and counts it. Returns the entry's
    /// display path when its content is to be read.
    fn entry(&mut self, name: &str, kind: EntryKind) -> Result<Option<String>, Refusal> {
        self.entries += 1;
        if self.entries > self.limits.max_files {
            return Err(Refusal(format!(
                "{REFUSED}: more than {} entries (at entry \"{name}\"; possible decompression \
                 bomb); split the archive, or extract it and scan the directory",
                self.limits.max_files
            )));
        }
        if let Some(reason) = unsafe_name(name) {
            return Err(Refusal(format!(
                "{REFUSED}: entry \"{name}\" {reason}, which could escape the scan directory; \
                 re-create the archive with relative paths inside it"
            )));
        }
        let what = match kind {
            EntryKind::File => None,
            EntryKind::Directory => return Ok(None),
            EntryKind::Symlink => Some("is a symbolic link"),
            EntryKind::HardLink => Some("is a hard link"),
            EntryKind::Special => Some("is a device or special file"),
        };
        if let Some(what) = what {
            return Err(Refusal(format!(
                "{REFUSED}: entry \"{name}\" {what}; archives may hold only regular files and \
                 directories: replace links by the files they point to"
            )));
        }
        let relative = normalize(name);
        if relative.is_empty() || !read_in_archive(&relative) {
            return Ok(None);
        }
        let display = format!("{}!/{relative}", self.display);
        if archive_kind(&relative).is_some() {
            self.out.error(
                display,
                "nested archive skipped: archives inside archives are not opened; extract it \
                 and scan it separately",
            );
            return Ok(None);
        }
        let wanted = is_scannable(&relative) && self.filter.is_none_or(|re| re.is_match(&display));
        Ok(wanted.then_some(display))
    }

    /// Reads a wanted entry's content (already counted by the caller's reader)
    /// into the files or the errors.
    fn content(&mut self, name: &str, display: String, reader: impl Read) -> Result<(), Refusal> {
        match read_capped(reader, self.limits.max_file_bytes) {
            Err(e) => Err(self.read_failed(name, e)),
            Ok(Err(message)) => {
                self.out.error(display, message);
                Ok(())
            }
            Ok(Ok(bytes)) => {
                match text(bytes) {
                    Ok(text) => self.out.files.push(SourceFile {
                        path: display,
                        text,
                    }),
                    Err(message) => self.out.error(display, message),
                }
                Ok(())
            }
        }
    }

    fn zip<R: Read + Seek>(&mut self, reader: R) -> Result<(), Refusal> {
        let mut archive = zip::ZipArchive::new(reader).map_err(|e| not_an_archive("zip", e))?;
        for index in 0..archive.len() {
            // The entry's metadata first, without decompressing anything.
            let (name, kind) = {
                let raw = archive
                    .by_index_raw(index)
                    .map_err(|e| self.read_failed(&format!("#{}", index + 1), e))?;
                let name = String::from_utf8_lossy(raw.name_raw()).into_owned();
                let kind = if raw.is_dir() {
                    EntryKind::Directory
                } else {
                    raw.unix_mode().map_or(EntryKind::File, kind_from_mode)
                };
                (name, kind)
            };
            let Some(display) = self.entry(&name, kind)? else {
                continue;
            };
            match archive.by_index(index) {
                Ok(entry) => {
                    let counted = self.counted(entry);
                    self.content(&name, display, counted)?;
                }
                // An encrypted entry or an unsupported compression method.
                Err(e) => self.out.error(
                    display,
                    format!(
                        "cannot decompress: {e}; re-create the archive without encryption, \
                         with the deflate or store method"
                    ),
                ),
            }
        }
        Ok(())
    }

    fn seven_z<R: Read + Seek>(&mut self, mut reader: R) -> Result<(), Refusal> {
        let password = sevenz_rust2::Password::from("");
        let archive = sevenz_rust2::Archive::read(&mut reader, &password)
            .map_err(|e| not_an_archive("7z", e))?;
        let declared = archive.files.len();
        if declared > self.limits.max_files {
            return Err(Refusal(format!(
                "{REFUSED}: {declared} entries, more than {} (possible decompression bomb); \
                 split the archive, or extract it and scan the directory",
                self.limits.max_files
            )));
        }
        let mut refusal = None;
        // The entry being read, or the block being opened, for error messages.
        let current = RefCell::new(String::new());
        let mut each = |entry: &sevenz_rust2::ArchiveEntry, data: &mut dyn Read| {
            current.borrow_mut().clone_from(&entry.name);
            match self.seven_z_entry(entry, data) {
                Ok(()) => Ok(true),
                Err(r) => {
                    refusal = Some(r);
                    Ok(false)
                }
            }
        };
        // ArchiveReader::for_each_entries goes on with the next block after the
        // callback asks to stop; this loop stops at the first refusal.
        let mut result = Ok(true);
        for block in 0..archive.blocks.len() {
            *current.borrow_mut() = format!("(start of data block {})", block + 1);
            result = sevenz_rust2::BlockDecoder::new(1, block, &archive, &password, &mut reader)
                .for_each_entries(&mut each);
            if !matches!(result, Ok(true)) {
                break;
            }
        }
        if matches!(result, Ok(true)) {
            // Empty files belong to no block.
            for (index, entry) in archive.files.iter().enumerate() {
                if matches!(archive.stream_map.file_block_index.get(index), Some(None))
                    && matches!(each(entry, &mut io::empty()), Ok(false))
                {
                    break;
                }
            }
        }
        if let Some(r) = refusal {
            return Err(r);
        }
        let current = current.into_inner();
        result.map(drop).map_err(|e| self.read_failed(&current, e))
    }

    fn seven_z_entry(
        &mut self,
        entry: &sevenz_rust2::ArchiveEntry,
        data: &mut dyn Read,
    ) -> Result<(), Refusal> {
        let wanted = self.entry(&entry.name, seven_z_kind(entry))?;
        // Every entry is decompressed through the counter, even one not read:
        // in a solid block skipping it decompresses it anyway.
        let mut counted = self.counted(data);
        match wanted {
            Some(display) => self.content(&entry.name, display, &mut counted),
            None => io::copy(&mut counted, &mut io::sink())
                .map(drop)
                .map_err(|e| self.read_failed(&entry.name, e)),
        }
    }

    fn tar<R: Read>(&mut self, reader: R) -> Result<(), Refusal> {
        // The whole stream is counted: skipping an entry decompresses it too.
        let mut archive = tar::Archive::new(self.counted(reader));
        let entries = archive
            .entries()
            .map_err(|e| self.read_failed("(first entry)", e))?;
        let mut previous = String::from("(first entry)");
        for entry in entries {
            let entry = entry.map_err(|e| self.read_failed(&format!("after {previous}"), e))?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let kind = match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
                tar::EntryType::Directory => EntryKind::Directory,
                tar::EntryType::Symlink => EntryKind::Symlink,
                tar::EntryType::Link => EntryKind::HardLink,
                // Metadata for the entries that follow, not a file.
                tar::EntryType::XGlobalHeader => continue,
                _ => EntryKind::Special,
            };
            if let Some(display) = self.entry(&name, kind)? {
                self.content(&name, display, entry)?;
            }
            previous = name;
        }
        Ok(())
    }

    /// A single gzip-compressed file: `main.tf.gz` holds `main.tf`.
    fn gz<R: Read>(&mut self, reader: R, display: &str) -> Result<(), Refusal> {
        let file_name = display.rsplit(['/', '\\']).next().unwrap_or(display);
        let inner = &file_name[..file_name.len().saturating_sub(3)];
        if let Some(display) = self.entry(inner, EntryKind::File)? {
            let counted = self.counted(flate2::read::MultiGzDecoder::new(reader));
            self.content(inner, display, counted)?;
        }
        Ok(())
    }
}

fn not_an_archive(format: &str, error: impl fmt::Display) -> Refusal {
    Refusal(format!(
        "cannot read as a {format} archive: {error}; check that the file is a complete, \
         unencrypted {format} archive"
    ))
}

/// The kind of a 7z entry, from its Windows attributes (with the Unix mode in
/// the high 16 bits when the archive was made on Unix).
fn seven_z_kind(entry: &sevenz_rust2::ArchiveEntry) -> EntryKind {
    const REPARSE_POINT: u32 = 0x400;
    const UNIX_EXTENSION: u32 = 0x8000;
    let attributes = entry.windows_attributes;
    if entry.is_directory {
        EntryKind::Directory
    } else if entry.has_windows_attributes && attributes & REPARSE_POINT != 0 {
        EntryKind::Symlink
    } else if entry.has_windows_attributes && attributes & UNIX_EXTENSION != 0 {
        kind_from_mode(attributes >> 16)
    } else {
        EntryKind::File
    }
}

/// Why an entry name could escape the directory it is extracted to, if it could.
fn unsafe_name(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if name.starts_with(['/', '\\']) {
        Some("has an absolute path")
    } else if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        Some("starts with a drive letter")
    } else if name.split(['/', '\\']).any(|part| part == "..") {
        Some("has a \"..\" component")
    } else if name.contains('\0') {
        Some("has a NUL character in its name")
    } else {
        None
    }
}

/// An entry's path with `/` separators and no empty or `.` components.
fn normalize(name: &str) -> String {
    name.split(['/', '\\'])
        .filter(|part| !part.is_empty() && *part != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a normalized entry path is read by the rules of a directory walk:
/// not under a hidden directory (`.git/…`), unless under the module cache
/// `.terraform/modules/` and admitted there.
fn read_in_archive(relative: &str) -> bool {
    let mut dirs: Vec<&str> = relative.split('/').collect();
    let name = dirs.pop().unwrap_or_default();
    let Some(hidden) = dirs.iter().position(|part| part.starts_with('.')) else {
        return true;
    };
    let in_cache = dirs[hidden] == ".terraform"
        && dirs.get(hidden + 1) == Some(&MODULE_CACHE)
        && !dirs[hidden + 2..].iter().any(|part| part.starts_with('.'));
    in_cache
        && Area::ModuleCache {
            top: dirs.len() == hidden + 2,
        }
        .admits(name)
}

fn too_large(len: u64, limits: &Limits) -> String {
    format!(
        "file is {len} bytes, more than the limit of {} bytes; not read",
        limits.max_file_bytes
    )
}

/// Reads at most `max` bytes; `Ok(Err(message))` when there are more.
fn read_capped(reader: impl Read, max: u64) -> io::Result<Result<Vec<u8>, String>> {
    let mut bytes = Vec::new();
    reader.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Ok(Err(format!(
            "file is more than the limit of {max} bytes; not read"
        )));
    }
    Ok(Ok(bytes))
}

/// The UTF-8 text of a file, without a leading byte-order mark.
fn text(bytes: Vec<u8>) -> Result<String, String> {
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            Ok(text)
        }
        Err(e) => Err(format!(
            "not UTF-8 text (invalid byte at offset {}); save the file as UTF-8",
            e.utf8_error().valid_up_to()
        )),
    }
}
