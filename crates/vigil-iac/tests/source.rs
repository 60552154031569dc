//! `vigil_iac::source`: walking directories and reading archives safely.
//! Archives are built in a temporary directory by the tests themselves.

use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use regex::Regex;
use vigil_iac::source::{gather, is_scannable, Gathered, Limits};
use zip::write::SimpleFileOptions;

const TF: &str = "resource \"aws_s3_bucket\" \"b\" {}\n";

fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create the test directory");
    }
    fs::write(path, bytes).expect("write the test file");
}

fn paths(found: &Gathered) -> Vec<&str> {
    found.files.iter().map(|f| f.path.as_str()).collect()
}

fn gather_one(path: &Path, limits: &Limits) -> Gathered {
    gather(&[path.to_path_buf()], None, limits)
}

/// A zip of (name, content) entries, deflated.
fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in entries {
        writer
            .start_file(*name, SimpleFileOptions::default())
            .expect("start zip entry");
        writer.write_all(content).expect("write zip entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

fn gz_bytes(content: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(content).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A tar header for `name` (written raw, so that hostile names are possible).
fn tar_header(name: &str, kind: tar::EntryType, size: u64, link: Option<&str>) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    let raw = &mut header.as_old_mut().name;
    raw[..name.len()].copy_from_slice(name.as_bytes());
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    if let Some(link) = link {
        header.set_link_name(link).expect("link name");
    }
    header.set_cksum();
    header
}

/// A tar of entries: (name, kind, content, link target).
fn tar_bytes(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, content, link) in entries {
        let header = tar_header(name, *kind, content.len() as u64, *link);
        builder.append(&header, *content).expect("append tar entry");
    }
    builder.into_inner().expect("finish tar")
}

fn seven_z_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let entries: Vec<_> = entries
        .iter()
        .map(|(name, content)| (sevenz_rust2::ArchiveEntry::new_file(name), *content))
        .collect();
    seven_z_entries(entries)
}

fn seven_z_entries(entries: Vec<(sevenz_rust2::ArchiveEntry, &[u8])>) -> Vec<u8> {
    let mut writer =
        sevenz_rust2::ArchiveWriter::new(Cursor::new(Vec::new())).expect("start 7z archive");
    for (entry, content) in entries {
        writer
            .push_archive_entry(entry, Some(content))
            .expect("write 7z entry");
    }
    writer.finish().expect("finish 7z").into_inner()
}

/// Asserts that the archive was refused with one error naming the archive,
/// `entry` and `reason`, and that no file came out of it.
fn assert_refused(found: &Gathered, archive: &Path, entry: &str, reason: &str) {
    assert!(found.files.is_empty(), "files read: {:?}", paths(found));
    assert_eq!(found.errors.len(), 1, "{:?}", found.errors);
    let error = &found.errors[0];
    assert_eq!(error.path, archive.to_string_lossy());
    assert!(
        error.message.contains("archive refused"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains(&format!("\"{entry}\"")),
        "entry {entry} not named in: {}",
        error.message
    );
    assert!(
        error.message.contains(reason),
        "reason {reason:?} not in: {}",
        error.message
    );
}

#[test]
fn scannable_extensions() {
    for yes in [
        "main.tf",
        "prod.tfvars",
        "prod.tfvars.json",
        "plan.json",
        "stack.yaml",
        "stack.YML",
        "stack.template",
    ] {
        assert!(is_scannable(yes), "{yes}");
    }
    for no in ["README.md", "main.tf.bak", "x.zip", "tf", "main.hcl"] {
        assert!(!is_scannable(no), "{no}");
    }
}

#[test]
fn directory_walk_is_sorted_skips_hidden_directories_and_filters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let infra = dir.path().join("infra");
    write(&infra.join("main.tf"), TF.as_bytes());
    write(&infra.join("b/variables.tf"), b"variable \"x\" {}\n");
    write(&infra.join("a.yaml"), b"Resources: {}\n");
    write(&infra.join("README.md"), b"# not scanned\n");
    write(&infra.join(".terraform/providers/p/x.tf"), TF.as_bytes());
    write(&infra.join(".terraform/x.tf"), TF.as_bytes());
    write(&infra.join(".git/x.tf"), TF.as_bytes());
    write(&infra.join("bad.tf"), b"\xff\xfe not utf-8");
    write(&infra.join("bom.tf"), "\u{feff}locals {}\n".as_bytes());
    let outside = dir.path().join("outside");
    write(&outside.join("secret.tf"), TF.as_bytes());
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, infra.join("link")).expect("symlink");

    let found = gather_one(&infra, &Limits::default());
    let p = |rel: &str| infra.join(rel).to_string_lossy().into_owned();
    assert_eq!(
        paths(&found),
        vec![p("a.yaml"), p("b/variables.tf"), p("bom.tf"), p("main.tf")]
    );
    assert_eq!(found.files[3].text, TF);
    assert_eq!(
        found.files[2].text, "locals {}\n",
        "byte-order mark dropped"
    );
    assert_eq!(found.errors.len(), 1, "{:?}", found.errors);
    assert_eq!(found.errors[0].path, p("bad.tf"));
    assert!(found.errors[0].message.contains("not UTF-8"));

    let filter = Regex::new(r"/b/.*[.]tf$").expect("regex");
    let filtered = gather(
        std::slice::from_ref(&infra),
        Some(&filter),
        &Limits::default(),
    );
    assert_eq!(paths(&filtered), vec![p("b/variables.tf")]);
}

#[test]
fn missing_path_and_unscannable_file_are_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let notes = dir.path().join("notes.txt");
    write(&notes, b"hello");
    let missing = dir.path().join("missing");
    let found = gather(&[missing.clone(), notes.clone()], None, &Limits::default());
    assert!(found.files.is_empty());
    assert_eq!(found.errors.len(), 2, "{:?}", found.errors);
    assert_eq!(found.errors[0].path, missing.to_string_lossy());
    assert!(found.errors[0].to_string().contains("cannot read"));
    assert_eq!(found.errors[1].path, notes.to_string_lossy());
    assert!(found.errors[1].message.contains("not a file Vigil scans"));
}

#[test]
fn too_large_plain_file_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let big = dir.path().join("big.tf");
    write(&big, &[b' '; 200]);
    let limits = Limits {
        max_file_bytes: 100,
        ..Limits::default()
    };
    let found = gather_one(&big, &limits);
    assert!(found.files.is_empty());
    assert!(found.errors[0]
        .message
        .contains("more than the limit of 100 bytes"));
}

#[test]
fn zip_entries_keep_their_directories_and_nested_archives_are_noted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let zip = dir.path().join("build/iac.zip");
    write(
        &zip,
        &zip_bytes(&[
            ("modules/s3/main.tf", TF.as_bytes()),
            ("./main.tf", b"locals {}\n"),
            ("modules/", b""),
            ("docs/readme.md", b"ignored"),
            ("vendor/inner.zip", b"PK"),
            (".terraform/cache.tf", TF.as_bytes()),
        ]),
    );
    // Found inside a directory, like any file.
    let found = gather_one(dir.path(), &Limits::default());
    let z = zip.to_string_lossy();
    assert_eq!(
        paths(&found),
        vec![format!("{z}!/main.tf"), format!("{z}!/modules/s3/main.tf")]
    );
    assert_eq!(found.files[1].text, TF);
    assert_eq!(found.errors.len(), 1, "{:?}", found.errors);
    assert_eq!(found.errors[0].path, format!("{z}!/vendor/inner.zip"));
    assert!(found.errors[0].message.contains("nested archive skipped"));

    let filter = Regex::new(r"modules/").expect("regex");
    let filtered = gather(
        std::slice::from_ref(&zip),
        Some(&filter),
        &Limits::default(),
    );
    assert_eq!(paths(&filtered), vec![format!("{z}!/modules/s3/main.tf")]);
}

#[test]
fn tar_tar_gz_tgz_gz_and_7z_are_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tar = tar_bytes(&[
        ("infra/", tar::EntryType::Directory, b"", None),
        (
            "infra/main.tf",
            tar::EntryType::Regular,
            TF.as_bytes(),
            None,
        ),
        ("infra/x.bin", tar::EntryType::Regular, b"\x00\x01", None),
    ]);
    write(&dir.path().join("a.tar"), &tar);
    write(&dir.path().join("b.tar.gz"), &gz_bytes(&tar));
    write(&dir.path().join("c.tgz"), &gz_bytes(&tar));
    write(&dir.path().join("main.tf.gz"), &gz_bytes(TF.as_bytes()));
    write(&dir.path().join("notes.txt.gz"), &gz_bytes(b"ignored"));
    write(
        &dir.path().join("e.7z"),
        &seven_z_bytes(&[
            ("modules/s3/main.tf", TF.as_bytes()),
            ("stack.yaml", b"Resources: {}\n"),
        ]),
    );
    let found = gather_one(dir.path(), &Limits::default());
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    let d = dir.path().to_string_lossy();
    assert_eq!(
        paths(&found),
        vec![
            format!("{d}/a.tar!/infra/main.tf"),
            format!("{d}/b.tar.gz!/infra/main.tf"),
            format!("{d}/c.tgz!/infra/main.tf"),
            format!("{d}/e.7z!/modules/s3/main.tf"),
            format!("{d}/e.7z!/stack.yaml"),
            format!("{d}/main.tf.gz!/main.tf"),
        ]
    );
    assert!(found
        .files
        .iter()
        .all(|f| f.text == TF || f.text == "Resources: {}\n"));
}

#[test]
fn zip_slip_and_absolute_paths_refuse_the_archive() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, entry, reason) in [
        ("slip.zip", "../evil.tf", "has a \"..\" component"),
        (
            "deep.zip",
            "modules/../../evil.tf",
            "has a \"..\" component",
        ),
        ("abs.zip", "/etc/evil.tf", "has an absolute path"),
        ("drive.zip", "C:/evil.tf", "starts with a drive letter"),
        ("back.zip", "..\\evil.tf", "has a \"..\" component"),
    ] {
        let zip = dir.path().join(name);
        write(
            &zip,
            &zip_bytes(&[("main.tf", TF.as_bytes()), (entry, TF.as_bytes())]),
        );
        assert_refused(&gather_one(&zip, &Limits::default()), &zip, entry, reason);
    }
    let seven = dir.path().join("slip.7z");
    write(
        &seven,
        &seven_z_bytes(&[("main.tf", TF.as_bytes()), ("../evil.tf", TF.as_bytes())]),
    );
    assert_refused(
        &gather_one(&seven, &Limits::default()),
        &seven,
        "../evil.tf",
        "\"..\"",
    );
    let tar = dir.path().join("slip.tar");
    write(
        &tar,
        &tar_bytes(&[
            ("main.tf", tar::EntryType::Regular, TF.as_bytes(), None),
            ("../evil.tf", tar::EntryType::Regular, TF.as_bytes(), None),
        ]),
    );
    assert_refused(
        &gather_one(&tar, &Limits::default()),
        &tar,
        "../evil.tf",
        "\"..\"",
    );
}

#[test]
fn links_and_devices_refuse_the_archive() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, entry, kind, reason) in [
        (
            "sym.tar",
            "link.tf",
            tar::EntryType::Symlink,
            "symbolic link",
        ),
        ("hard.tar.gz", "hard.tf", tar::EntryType::Link, "hard link"),
        ("dev.tar", "dev.tf", tar::EntryType::Char, "device"),
    ] {
        let tar = tar_bytes(&[
            ("main.tf", tar::EntryType::Regular, TF.as_bytes(), None),
            (entry, kind, b"", Some("/etc/passwd")),
        ]);
        let path = dir.path().join(name);
        let bytes = if name.ends_with(".gz") {
            gz_bytes(&tar)
        } else {
            tar
        };
        write(&path, &bytes);
        assert_refused(&gather_one(&path, &Limits::default()), &path, entry, reason);
    }

    // A 7z entry made on Unix carries its mode in the high 16 attribute bits.
    let mut link = sevenz_rust2::ArchiveEntry::new_file("link.tf");
    link.has_windows_attributes = true;
    link.windows_attributes = 0x8000 | (0o120_777 << 16);
    let seven = dir.path().join("sym.7z");
    write(
        &seven,
        &seven_z_entries(vec![
            (
                sevenz_rust2::ArchiveEntry::new_file("main.tf"),
                TF.as_bytes(),
            ),
            (link, b"/etc/passwd"),
        ]),
    );
    assert_refused(
        &gather_one(&seven, &Limits::default()),
        &seven,
        "link.tf",
        "symbolic link",
    );

    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer
        .start_file("main.tf", SimpleFileOptions::default())
        .expect("zip entry");
    writer.write_all(TF.as_bytes()).expect("zip entry");
    writer
        .add_symlink("link.tf", "/etc/passwd", SimpleFileOptions::default())
        .expect("zip symlink");
    let zip = dir.path().join("sym.zip");
    write(&zip, &writer.finish().expect("zip").into_inner());
    assert_refused(
        &gather_one(&zip, &Limits::default()),
        &zip,
        "link.tf",
        "symbolic link",
    );
}

#[test]
fn decompression_bombs_are_stopped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let zeros = vec![b' '; 1 << 20];

    // Ratio: a megabyte of spaces deflates to about a kilobyte.
    let zip = dir.path().join("ratio.zip");
    write(
        &zip,
        &zip_bytes(&[("main.tf", TF.as_bytes()), ("bomb.tf", &zeros)]),
    );
    let ratio = Limits {
        max_ratio: 50,
        ..Limits::default()
    };
    assert_refused(
        &gather_one(&zip, &ratio),
        &zip,
        "bomb.tf",
        "more than 50 times",
    );

    // Total: many entries each below the file limit, together above the total.
    let chunk = vec![b' '; 40_000];
    let entries: Vec<(String, &[u8])> = (0..10)
        .map(|i| (format!("part{i}.tf"), chunk.as_slice()))
        .collect();
    let named: Vec<(&str, &[u8])> = entries.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    let total = Limits {
        max_total_bytes: 100_000,
        max_ratio: u64::MAX,
        ..Limits::default()
    };
    for (name, bytes) in [
        ("total.zip", zip_bytes(&named)),
        ("total.7z", seven_z_bytes(&named)),
    ] {
        let path = dir.path().join(name);
        write(&path, &bytes);
        assert_refused(
            &gather_one(&path, &total),
            &path,
            "part2.tf",
            "more than 100000 bytes decompressed",
        );
    }
    let tgz = dir.path().join("total.tgz");
    let tar_entries: Vec<_> = named
        .iter()
        .map(|(n, c)| (*n, tar::EntryType::Regular, *c, None))
        .collect();
    write(&tgz, &gz_bytes(&tar_bytes(&tar_entries)));
    assert_refused(
        &gather_one(&tgz, &total),
        &tgz,
        "part2.tf",
        "more than 100000 bytes decompressed",
    );

    // A single gzip-compressed file.
    let gz = dir.path().join("main.tf.gz");
    write(&gz, &gz_bytes(&zeros));
    assert_refused(
        &gather_one(&gz, &ratio),
        &gz,
        "main.tf",
        "more than 50 times",
    );
}

#[test]
fn too_many_entries_refuse_the_archive() {
    let dir = tempfile::tempdir().expect("temp dir");
    let names: Vec<String> = (0..5).map(|i| format!("f{i}.tf")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), TF.as_bytes())).collect();
    let limits = Limits {
        max_files: 3,
        ..Limits::default()
    };
    let zip = dir.path().join("many.zip");
    write(&zip, &zip_bytes(&entries));
    assert_refused(
        &gather_one(&zip, &limits),
        &zip,
        "f3.tf",
        "more than 3 entries",
    );

    let seven = dir.path().join("many.7z");
    write(&seven, &seven_z_bytes(&entries));
    let found = gather_one(&seven, &limits);
    assert!(found.files.is_empty());
    assert!(found.errors[0].message.contains("5 entries, more than 3"));
}

#[test]
fn oversized_and_non_utf8_entries_are_errors_but_the_rest_is_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let zip = dir.path().join("mixed.zip");
    write(
        &zip,
        &zip_bytes(&[
            ("big.tf", &[b'#'; 500]),
            ("latin1.tf", b"# caf\xe9\n"),
            ("main.tf", TF.as_bytes()),
        ]),
    );
    let limits = Limits {
        max_file_bytes: 100,
        ..Limits::default()
    };
    let found = gather_one(&zip, &limits);
    let z = zip.to_string_lossy();
    assert_eq!(paths(&found), vec![format!("{z}!/main.tf")]);
    let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with(&format!("{z}!/big.tf: file is more than the limit")));
    assert!(errors[1].starts_with(&format!("{z}!/latin1.tf: not UTF-8")));
}

#[test]
fn damaged_archive_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = dir.path().join("fake.zip");
    write(&fake, b"not a zip at all");
    let found = gather(&[PathBuf::from(&fake)], None, &Limits::default());
    assert!(found.files.is_empty());
    assert!(found.errors[0]
        .message
        .contains("cannot read as a zip archive"));
}

#[test]
fn zip_entry_with_unsupported_method_is_an_error_but_the_rest_is_read() {
    let mut bytes = zip_bytes(&[("a.tf", b"locals {}\n"), ("main.tf", TF.as_bytes())]);
    // Mark the first entry as bzip2-compressed (method 12), which is not read.
    let local = find(&bytes, b"PK\x03\x04");
    bytes[local + 8..local + 10].copy_from_slice(&12u16.to_le_bytes());
    let central = find(&bytes, b"PK\x01\x02");
    bytes[central + 10..central + 12].copy_from_slice(&12u16.to_le_bytes());
    let dir = tempfile::tempdir().expect("temp dir");
    let zip = dir.path().join("methods.zip");
    write(&zip, &bytes);
    let found = gather_one(&zip, &Limits::default());
    let z = zip.to_string_lossy();
    assert_eq!(paths(&found), vec![format!("{z}!/main.tf")]);
    assert_eq!(found.errors.len(), 1, "{:?}", found.errors);
    assert_eq!(found.errors[0].path, format!("{z}!/a.tf"));
    assert!(found.errors[0].message.contains("cannot decompress"));
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("zip signature")
}

#[test]
fn the_module_cache_is_read_but_not_the_rest_of_terraform_or_hidden_directories() {
    let dir = tempfile::tempdir().expect("temp dir");
    let infra = dir.path().join("infra");
    let cache = infra.join(".terraform/modules");
    write(&infra.join("main.tf"), TF.as_bytes());
    write(&cache.join("modules.json"), b"{\"Modules\":[]}");
    write(&cache.join("b/main.tf"), TF.as_bytes());
    write(&cache.join("b/modules/x/main.tf"), TF.as_bytes());
    // Not Terraform code: not read from a downloaded module.
    write(&cache.join("b/README.md"), b"# module\n");
    write(&cache.join("b/examples/policy.json"), b"{}");
    write(&cache.join("b/cfn.yaml"), b"Resources: {}\n");
    write(&cache.join("b/x.tfvars"), b"a = 1\n");
    write(&cache.join("b/modules.json"), b"{}");
    write(&cache.join("b/inner.zip"), b"PK");
    // Hidden directories in the cache, and the rest of `.terraform`.
    write(&cache.join("b/.git/x.tf"), TF.as_bytes());
    write(&cache.join("b/.terraform/modules/modules.json"), b"{}");
    write(&infra.join(".terraform/providers/p/x.tf"), TF.as_bytes());
    write(&infra.join(".terraform/environment.json"), b"{}");
    write(&infra.join(".git/x.tf"), TF.as_bytes());
    write(
        &infra.join(".hidden/.terraform/modules/m/main.tf"),
        TF.as_bytes(),
    );

    let found = gather_one(&infra, &Limits::default());
    let p = |rel: &str| infra.join(rel).to_string_lossy().into_owned();
    assert_eq!(
        paths(&found),
        vec![
            p(".terraform/modules/b/main.tf"),
            p(".terraform/modules/b/modules/x/main.tf"),
            p(".terraform/modules/modules.json"),
            p("main.tf"),
        ]
    );
    assert!(found.errors.is_empty(), "{:?}", found.errors);

    // A `.terraform/modules` that is a link to a directory is not followed.
    #[cfg(unix)]
    {
        let other = dir.path().join("other");
        write(&other.join("main.tf"), TF.as_bytes());
        fs::create_dir_all(other.join(".terraform")).expect("mkdir");
        std::os::unix::fs::symlink(&cache, other.join(".terraform/modules")).expect("symlink");
        let found = gather_one(&other, &Limits::default());
        assert_eq!(
            paths(&found),
            vec![other.join("main.tf").to_string_lossy().into_owned()]
        );
    }

    // Without `.terraform`, the walk is as before.
    let plain = dir.path().join("plain");
    write(&plain.join("main.tf"), TF.as_bytes());
    write(&plain.join(".git/x.tf"), TF.as_bytes());
    write(&plain.join("m/modules.json"), b"{}");
    let found = gather_one(&plain, &Limits::default());
    assert_eq!(
        paths(&found),
        vec![
            plain.join("m/modules.json").to_string_lossy().into_owned(),
            plain.join("main.tf").to_string_lossy().into_owned(),
        ]
    );
}

#[test]
fn archives_follow_the_module_cache_rules() {
    let dir = tempfile::tempdir().expect("temp dir");
    let zip = dir.path().join("iac.zip");
    write(
        &zip,
        &zip_bytes(&[
            ("main.tf", TF.as_bytes()),
            (".terraform/modules/modules.json", b"{\"Modules\":[]}"),
            (".terraform/modules/b/main.tf", TF.as_bytes()),
            (".terraform/modules/b/policy.json", b"{}"),
            (".terraform/modules/b/.git/x.tf", TF.as_bytes()),
            (".terraform/modules/b/modules.json", b"{}"),
            (".terraform/providers/p.tf", TF.as_bytes()),
            (".git/x.tf", TF.as_bytes()),
        ]),
    );
    let found = gather_one(&zip, &Limits::default());
    let z = zip.to_string_lossy();
    assert_eq!(
        paths(&found),
        vec![
            format!("{z}!/.terraform/modules/b/main.tf"),
            format!("{z}!/.terraform/modules/modules.json"),
            format!("{z}!/main.tf"),
        ]
    );
    assert!(found.errors.is_empty(), "{:?}", found.errors);
}

/// A root calling a registry module that `terraform init` downloaded, read
/// from disk and scanned end to end.
#[test]
fn a_scan_evaluates_the_downloaded_registry_modules() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("prod");
    write(
        &root.join("main.tf"),
        b"module \"bucket\" {\n  source = \"cloudposse/s3-bucket/aws\"\n  name = \"logs\"\n}\n",
    );
    let cache = root.join(".terraform/modules");
    write(
        &cache.join("modules.json"),
        br#"{"Modules":[{"Key":"","Source":"","Dir":"."},
            {"Key":"bucket","Source":"registry.terraform.io/cloudposse/s3-bucket/aws","Version":"4.2.0","Dir":".terraform/modules/bucket"},
            {"Key":"bucket.this","Source":"registry.terraform.io/cloudposse/label/null","Version":"0.25.0","Dir":".terraform/modules/bucket.this"}]}"#,
    );
    write(
        &cache.join("bucket/main.tf"),
        b"variable \"name\" {}\n\
          module \"this\" {\n  source = \"cloudposse/label/null\"\n  name = var.name\n}\n\
          resource \"aws_s3_bucket\" \"default\" {\n  count = 1\n  bucket = module.this.id\n}\n",
    );
    write(
        &cache.join("bucket.this/main.tf"),
        b"variable \"name\" {}\noutput \"id\" {\n  value = \"acme-${var.name}\"\n}\n",
    );
    let scan = |paths: &[PathBuf]| {
        vigil_iac::scan(
            gather(paths, None, &Limits::default()),
            &vigil_iac::terraform::TfInputs::default(),
        )
    };
    let scanned = scan(std::slice::from_ref(&root));
    assert!(scanned.errors.is_empty(), "{:?}", scanned.errors);
    let buckets: Vec<_> = scanned
        .resources
        .iter()
        .filter(|r| r.resource_type == "aws.s3.bucket")
        .collect();
    assert_eq!(buckets.len(), 1, "{buckets:?}");
    assert!(
        buckets[0]
            .id
            .ends_with("module.bucket.aws_s3_bucket.default[0]"),
        "{}",
        buckets[0].id
    );
    assert_eq!(buckets[0].name, "acme-logs");
    assert!(scanned
        .files
        .iter()
        .any(|(p, _)| p.ends_with(".terraform/modules/modules.json")));

    // A broken manifest: reported by name, the scan goes on without the module.
    write(&cache.join("modules.json"), b"{not json");
    let scanned = scan(std::slice::from_ref(&root));
    assert_eq!(scanned.errors.len(), 1, "{:?}", scanned.errors);
    assert!(scanned.errors[0]
        .file
        .ends_with(".terraform/modules/modules.json"));
    assert!(scanned
        .resources
        .iter()
        .all(|r| r.resource_type != "aws.s3.bucket"));
}
