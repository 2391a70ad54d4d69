"""The node's live dashboard (`GET /dashboard`): plain HTML, CSS and JavaScript served as they are, no build
step and nothing fetched from elsewhere; its data comes from `GET /api/events`."""
