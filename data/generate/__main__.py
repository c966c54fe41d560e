"""``python -m data.generate``."""
from data.generate import main

raise SystemExit(main())
