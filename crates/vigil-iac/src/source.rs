//! Finding the files to scan: directories, files and archives (placeholder).
