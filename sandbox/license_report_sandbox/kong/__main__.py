"""``python -m license_report_sandbox.kong``: simulated Kong nodes in a process of their own."""

import sys

from license_report_sandbox.kong import child

sys.exit(child.main())
