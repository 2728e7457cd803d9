//! The bytes behind a glTF document: buffers (GLB chunk, `data:` URIs, files confined to the
//! glTF's folder), the check that every view and accessor fits in them, and image decoding within
//! the texture limits.
//!
//! Nothing here allocates from a count in the file before checking it against bytes that exist:
//! an accessor with a buffer view must fit in it, one without (all zeros, or sparse over zeros)
//! may not declare more elements than any reader of tutti accepts, and every consumer checks the
//! count again against its own limit before it reads.

use super::{AssetError, Importer};
use crate::assets::limits::{MAX_INDICES, MAX_TEXTURE_BYTES, MAX_TEXTURE_SIDE};
use base64::Engine as _;
use std::path::{Component, Path};

impl Importer {
    /// Resolve every buffer to its bytes and check it holds `byteLength` bytes.
    pub(super) fn load_buffers(
        &self,
        doc: &gltf::Document,
        blob: Option<&[u8]>,
    ) -> Result<Vec<Vec<u8>>, AssetError> {
        let mut out = Vec::new();
        for buffer in doc.buffers() {
            let data = match buffer.source() {
                gltf::buffer::Source::Bin => blob
                    .ok_or_else(|| {
                        self.invalid("a buffer refers to the GLB BIN chunk, which is missing")
                    })?
                    .to_vec(),
                gltf::buffer::Source::Uri(uri) => self.read_uri(uri)?,
            };
            if data.len() < buffer.length() {
                return Err(AssetError::TruncatedBuffer {
                    path: self.path.clone(),
                    buffer: buffer.index(),
                    declared: buffer.length(),
                    actual: data.len(),
                });
            }
            out.push(data);
        }
        Ok(out)
    }

    /// The bytes of a `data:` URI or of a file beside the glTF (never outside its folder).
    pub(super) fn read_uri(&self, uri: &str) -> Result<Vec<u8>, AssetError> {
        if let Some(rest) = uri.strip_prefix("data:") {
            let Some((_, payload)) = rest.split_once(";base64,") else {
                return Err(self.invalid("a data: URI is not base64-encoded"));
            };
            return base64::engine::general_purpose::STANDARD
                .decode(payload.trim_end())
                .map_err(|e| {
                    self.invalid(format!(
                        "a data: URI is not valid base64 ({e}); the file may be truncated"
                    ))
                });
        }
        let rel = percent_decode(uri);
        let Some(dir) = &self.base_dir else {
            return Err(self.invalid(format!(
                "URI {uri:?} refers to an external file, but this asset has no folder to resolve it in"
            )));
        };
        let escapes = || AssetError::UriEscapes {
            path: self.path.clone(),
            uri: uri.to_string(),
        };
        if rel.contains("://") || rel.contains('\0') {
            return Err(escapes());
        }
        let mut depth: i32 = 0;
        for comp in Path::new(&rel).components() {
            match comp {
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
                Component::ParentDir => {
                    depth -= 1;
                    if depth < 0 {
                        return Err(escapes());
                    }
                }
                Component::RootDir | Component::Prefix(_) => return Err(escapes()),
            }
        }
        let full = dir.join(&rel);
        // Symbolic links may still lead out of the folder: compare canonical paths.
        if let (Ok(canon_dir), Ok(canon_file)) = (dir.canonicalize(), full.canonicalize())
            && !canon_file.starts_with(&canon_dir)
        {
            return Err(escapes());
        }
        // Only regular files: a FIFO or device would block or never end.
        match std::fs::metadata(&full) {
            Ok(meta) if !meta.is_file() => {
                return Err(self.invalid(format!(
                    "URI {uri:?} does not name a regular file; external buffers and images must be files beside the glTF"
                )));
            }
            Ok(_) => {}
            Err(source) => return Err(AssetError::Io { path: full, source }),
        }
        std::fs::read(&full).map_err(|source| AssetError::Io { path: full, source })
    }

    /// Every view inside its buffer, every accessor inside its view (with a stride that holds
    /// its elements), every sparse accessor's indices and values inside theirs, so that reading
    /// never panics and never allocates for bytes that are not there.
    pub(super) fn check_bounds(
        &self,
        doc: &gltf::Document,
        buffers: &[Vec<u8>],
    ) -> Result<(), AssetError> {
        for view in doc.views() {
            let buf = view.buffer();
            let end = view.offset().checked_add(view.length());
            let present = buffers.get(buf.index()).map_or(0, Vec::len);
            if end.is_none_or(|e| e > buf.length() || e > present) {
                return Err(self.invalid(format!(
                    "buffer view {} (offset {}, length {}) runs past the end of buffer {}; the file is truncated or corrupt",
                    view.index(),
                    view.offset(),
                    view.length(),
                    buf.index()
                )));
            }
        }
        let fits = |view: &gltf::buffer::View<'_>, offset: usize, count: usize, elem: usize| {
            if count == 0 {
                return true;
            }
            let stride = view.stride().unwrap_or(elem);
            stride >= elem
                && (count - 1)
                    .checked_mul(stride)
                    .and_then(|x| x.checked_add(offset))
                    .and_then(|x| x.checked_add(elem))
                    .is_some_and(|end| end <= view.length())
        };
        for acc in doc.accessors() {
            let i = acc.index();
            if acc.count() == 0 {
                return Err(self.invalid(format!(
                    "accessor {i} has no elements; glTF requires a count of at least 1"
                )));
            }
            match acc.view() {
                Some(view) if !fits(&view, acc.offset(), acc.count(), acc.size()) => {
                    return Err(self.invalid(format!(
                        "accessor {i} ({} elements of {} bytes, stride {}) runs past the end of buffer view {} ({} bytes); the file is truncated or corrupt",
                        acc.count(),
                        acc.size(),
                        view.stride().unwrap_or(acc.size()),
                        view.index(),
                        view.length()
                    )));
                }
                Some(_) => {}
                None if acc.count() > MAX_INDICES => {
                    return Err(self.invalid(format!(
                        "accessor {i} declares {} elements without a buffer view to hold them; tutti reads at most {MAX_INDICES} elements from one accessor",
                        acc.count()
                    )));
                }
                None => {}
            }
            if let Some(sparse) = acc.sparse() {
                let idx = sparse.indices();
                let vals = sparse.values();
                let idx_size = idx.index_type().size();
                // A count of 0 underflows the gltf crate's reader (found by the fuzz target).
                if sparse.count() == 0 {
                    return Err(self.invalid(format!(
                        "sparse accessor {i} replaces no elements; glTF requires a sparse count of at least 1"
                    )));
                }
                if sparse.count() > acc.count() {
                    return Err(self.invalid(format!(
                        "sparse accessor {i} replaces {} elements but has only {}",
                        sparse.count(),
                        acc.count()
                    )));
                }
                if !fits(&idx.view(), idx.offset(), sparse.count(), idx_size)
                    || !fits(&vals.view(), vals.offset(), sparse.count(), acc.size())
                {
                    return Err(self.invalid(format!(
                        "sparse accessor {i} ({} elements) runs past the end of its buffer views; the file is truncated or corrupt",
                        sparse.count()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Decode an image to RGBA8 after checking its size: each side at most
    /// [`MAX_TEXTURE_SIDE`], and its RGBA8 bytes within what is left of [`MAX_TEXTURE_BYTES`]
    /// (`budget`, reduced by the image's bytes).
    pub(super) fn decode_image(
        &self,
        index: usize,
        bytes: &[u8],
        budget: &mut u64,
    ) -> Result<(u32, u32, Vec<u8>), AssetError> {
        let reader = || {
            image::ImageReader::new(std::io::Cursor::new(bytes))
                .with_guessed_format()
                .map_err(|e| self.invalid(format!("image {index} cannot be read: {e}")))
        };
        let cannot = |e: image::ImageError| {
            self.invalid(format!(
                "image {index} cannot be decoded: {e}; tutti reads PNG textures"
            ))
        };
        let (width, height) = reader()?.into_dimensions().map_err(cannot)?;
        let rgba_bytes = u64::from(width) * u64::from(height) * 4;
        if width > MAX_TEXTURE_SIDE || height > MAX_TEXTURE_SIDE {
            return Err(self.invalid(format!(
                "image {index} is {width}x{height} pixels; textures may be at most {MAX_TEXTURE_SIDE}x{MAX_TEXTURE_SIDE}, scale it down"
            )));
        }
        if rgba_bytes > *budget {
            return Err(self.invalid(format!(
                "image {index} ({width}x{height}) would take the asset's decoded textures past {} MiB; use fewer or smaller textures",
                MAX_TEXTURE_BYTES >> 20
            )));
        }
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_TEXTURE_SIDE);
        limits.max_image_height = Some(MAX_TEXTURE_SIDE);
        // The decoder's own buffer (up to 16-bit RGBA: twice the RGBA8 size) plus slack.
        limits.max_alloc = Some(rgba_bytes * 2 + (16 << 20));
        let mut decoder = reader()?;
        decoder.limits(limits);
        let decoded = decoder.decode().map_err(cannot)?.to_rgba8();
        if (decoded.width(), decoded.height()) != (width, height) {
            return Err(self.invalid(format!(
                "image {index} decoded to another size than its header says"
            )));
        }
        *budget -= rgba_bytes;
        Ok((width, height, decoded.into_raw()))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(v) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
