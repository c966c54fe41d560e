"""Reference data (参考数据): incident categories and their deadlines, and the names of the release's code
lists (programmes, incident sources, member roles), seeded from data/reference and edited in /admin/reference."""
