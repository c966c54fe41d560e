"""Grid boundary upload (网格边界上传): a file checked, previewed on a map, then committed or cancelled."""
