//! The image adapter for medialib's [`Thumbnailer`] port, on the `image` crate (JPEG, PNG,
//! WebP and GIF; no C libraries).
//!
//! Decoding runs on the blocking pool under limits that guard against decompression bombs: a
//! small file that declares a huge canvas is refused from its header, before any pixel buffer
//! is allocated. Thumbnails fit in a square (256 px by default) keeping the aspect ratio, and
//! are PNG when the image has transparency, JPEG otherwise.
//!
//! Depends on the domain and `image` only; never on SQL, HTTP or object storage.

use std::io::Cursor;

use bytes::Bytes;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use medialib_domain::{RenderError, RenderedImage, Thumbnailer};

/// The MIME types thumbnails are made of.
const ACCEPTED: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/gif"];

/// Sizes and limits of the thumbnailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThumbnailConfig {
    /// The longest side of a thumbnail, in pixels.
    pub size: u32,
    /// The largest original read, in bytes.
    pub max_source_bytes: u64,
    /// The largest width or height decoded, in pixels.
    pub max_dimension: u32,
    /// The most memory the decoder may allocate, in bytes.
    pub max_alloc: u64,
}

impl Default for ThumbnailConfig {
    fn default() -> Self {
        Self {
            size: 256,
            max_source_bytes: 50 * 1024 * 1024,
            max_dimension: 12_000,
            max_alloc: 256 * 1024 * 1024,
        }
    }
}

/// Makes thumbnails with the `image` crate.
#[derive(Debug, Clone, Default)]
pub struct ImageThumbnailer {
    config: ThumbnailConfig,
}

impl ImageThumbnailer {
    /// A thumbnailer with these sizes and limits.
    pub fn new(config: ThumbnailConfig) -> Self {
        Self { config }
    }
}

#[async_trait::async_trait]
impl Thumbnailer for ImageThumbnailer {
    fn accepts(&self, content_type: &str) -> bool {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        ACCEPTED.contains(&essence.as_str())
    }

    fn max_source_bytes(&self) -> u64 {
        self.config.max_source_bytes
    }

    async fn render(&self, original: Bytes) -> Result<RenderedImage, RenderError> {
        let config = self.config;
        tokio::task::spawn_blocking(move || render(&original, config))
            .await
            .map_err(|err| RenderError::Corrupt(Box::new(err)))?
    }
}

fn decode(bytes: &[u8], config: ThumbnailConfig) -> Result<DynamicImage, RenderError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|err| RenderError::Corrupt(Box::new(err)))?;
    if reader.format().is_none() {
        return Err(RenderError::Corrupt("not a known image format".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(config.max_dimension);
    limits.max_image_height = Some(config.max_dimension);
    limits.max_alloc = Some(config.max_alloc);
    reader.limits(limits);
    reader.decode().map_err(|err| match err {
        image::ImageError::Limits(_) => RenderError::TooLarge,
        other => RenderError::Corrupt(Box::new(other)),
    })
}

fn render(bytes: &[u8], config: ThumbnailConfig) -> Result<RenderedImage, RenderError> {
    let image = decode(bytes, config)?;
    let thumbnail = image.thumbnail(config.size, config.size);
    // Formats that can carry alpha (GIF always does) keep PNG only when a pixel uses it.
    let translucent = thumbnail.color().has_alpha()
        && thumbnail
            .to_rgba8()
            .pixels()
            .any(|pixel| pixel.0[3] < u8::MAX);
    let (format, content_type, thumbnail) = if translucent {
        (
            ImageFormat::Png,
            "image/png",
            DynamicImage::ImageRgba8(thumbnail.to_rgba8()),
        )
    } else {
        (
            ImageFormat::Jpeg,
            "image/jpeg",
            DynamicImage::ImageRgb8(thumbnail.to_rgb8()),
        )
    };
    let mut out = Cursor::new(Vec::new());
    thumbnail
        .write_to(&mut out, format)
        .map_err(|err| RenderError::Corrupt(Box::new(err)))?;
    Ok(RenderedImage {
        bytes: Bytes::from(out.into_inner()),
        content_type: content_type.to_owned(),
        width: thumbnail.width(),
        height: thumbnail.height(),
    })
}

#[cfg(test)]
mod tests {
    use image::{ImageBuffer, Rgb, Rgba};

    use super::*;

    fn encoded(image: DynamicImage, format: ImageFormat) -> Bytes {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        Bytes::from(out.into_inner())
    }

    fn photo(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }))
    }

    /// A valid PNG header declaring a `width` × `height` canvas, with a tiny body.
    fn png_declaring(width: u32, height: u32) -> Bytes {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
            let mut crc = crc32fast::Hasher::new();
            crc.update(kind);
            crc.update(data);
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            out.extend_from_slice(&crc.finalize().to_be_bytes());
        };
        let mut header = Vec::new();
        header.extend_from_slice(&width.to_be_bytes());
        header.extend_from_slice(&height.to_be_bytes());
        header.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(b"IHDR", &header);
        chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        chunk(b"IEND", &[]);
        Bytes::from(out)
    }

    #[tokio::test]
    async fn thumbnails_fit_the_box_and_keep_the_aspect_ratio() {
        let thumbnailer = ImageThumbnailer::default();
        for format in [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::Gif,
            ImageFormat::WebP,
        ] {
            let original = encoded(photo(512, 256), format);
            let rendered = thumbnailer.render(original).await.unwrap();
            assert_eq!((rendered.width, rendered.height), (256, 128), "{format:?}");
            let back = image::load_from_memory(&rendered.bytes).unwrap();
            assert_eq!((back.width(), back.height()), (256, 128));
        }
    }

    #[tokio::test]
    async fn transparent_images_get_png_thumbnails() {
        let image = DynamicImage::ImageRgba8(ImageBuffer::from_pixel(300, 300, Rgba([1, 2, 3, 4])));
        let rendered = ImageThumbnailer::default()
            .render(encoded(image, ImageFormat::Png))
            .await
            .unwrap();
        assert_eq!(rendered.content_type, "image/png");
        let opaque = ImageThumbnailer::default()
            .render(encoded(photo(300, 300), ImageFormat::Png))
            .await
            .unwrap();
        assert_eq!(opaque.content_type, "image/jpeg");
        let solid =
            DynamicImage::ImageRgba8(ImageBuffer::from_pixel(300, 300, Rgba([1, 2, 3, 255])));
        let rendered = ImageThumbnailer::default()
            .render(encoded(solid, ImageFormat::Png))
            .await
            .unwrap();
        assert_eq!(
            rendered.content_type, "image/jpeg",
            "an alpha channel nobody uses"
        );
    }

    #[tokio::test]
    async fn a_decompression_bomb_is_refused_from_its_header() {
        let bomb = png_declaring(100_000, 100_000);
        assert!(bomb.len() < 100);
        let err = ImageThumbnailer::default().render(bomb).await.unwrap_err();
        assert!(matches!(err, RenderError::TooLarge), "{err:?}");
    }

    #[tokio::test]
    async fn corrupt_and_truncated_images_are_refused() {
        let thumbnailer = ImageThumbnailer::default();
        let garbage = Bytes::from_static(b"this is not an image at all");
        assert!(matches!(
            thumbnailer.render(garbage).await.unwrap_err(),
            RenderError::Corrupt(_)
        ));
        let whole = encoded(photo(64, 64), ImageFormat::Png);
        let truncated = whole.slice(..whole.len() / 2);
        assert!(matches!(
            thumbnailer.render(truncated).await.unwrap_err(),
            RenderError::Corrupt(_)
        ));
    }

    #[test]
    fn accepts_the_four_image_types_with_parameters_and_any_case() {
        let thumbnailer = ImageThumbnailer::default();
        assert!(thumbnailer.accepts("image/jpeg"));
        assert!(thumbnailer.accepts("IMAGE/PNG; charset=binary"));
        assert!(thumbnailer.accepts("image/webp"));
        assert!(thumbnailer.accepts("image/gif"));
        assert!(!thumbnailer.accepts("image/svg+xml"));
        assert!(!thumbnailer.accepts("application/octet-stream"));
    }
}
