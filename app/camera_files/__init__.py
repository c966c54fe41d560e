"""Camera files in the browser (摄像机文件): upload with a dry run, export of a selection, the map editor."""
