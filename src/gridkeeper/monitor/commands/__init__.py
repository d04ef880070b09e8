"""Two-way Telegram: operator commands read by long polling and answered in the chat.

    botapi.py    the Bot API calls (getUpdates, sendMessage, answerCallbackQuery, editMessageText)
    parse.py     a message's text -> a command (pure)
    confirm.py   one-time confirmation ids with an expiry (pure)
    render.py    the replies' text (pure)
    ops.py       what the commands do: the keeper's socket API, the bots' HTTP API, monitor.db
    poller.py    the loop: poll, check the chat, dispatch, confirm, log operator actions

See docs/monitor.md "Telegram commands".
"""
