"""All typed models. Each feature keeps its tables in its own module; import it here so Alembic sees it."""
from .base import MAX_ROW_ID, Base, row_number, utcnow  # noqa: F401
from .notes import SOURCE_KINDS, Account, AccountAlias, Note, Statement  # noqa: F401
from .themes import Theme, ThemeEdit, ThemeEvent, ThemeMembership, ThemeRun, ThemeSnapshot  # noqa: F401
from .roadmap import LINK_KINDS, ROADMAP_STATUSES, RoadmapItem, RoadmapLink, RoadmapRejection  # noqa: F401
from .drafts import AUDIENCES, RATINGS, Draft, DraftFeedback  # noqa: F401
from .reports import DELIVERY_STATUSES, PERIODS, Report  # noqa: F401
from .auth import ROLES, ApiToken, AuditEntry, SignInCode, User  # noqa: F401
from .jobs import JOB_STATUSES, Job  # noqa: F401
from .limits import LLMUsage  # noqa: F401
from .followups import CHANGE_KINDS, FollowupTold, RoadmapStatusChange  # noqa: F401
