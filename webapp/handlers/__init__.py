"""Web handlers: plain functions taking (context, actor, inputs) that check permissions and call core/db/training."""
