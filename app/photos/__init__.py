"""Incident photos (事件照片): verified, EXIF-stripped images with thumbnails, stored in PostgreSQL."""
