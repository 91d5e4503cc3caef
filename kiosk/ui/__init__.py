"""The touchscreen kiosk app (Kivy): question, follow-up, thank-you, staff PIN pad and staff view.

`kiosk.ui.app.run_app` starts it. The pure logic (what screen comes next, timeouts, PIN lockout)
lives in `kiosk.ui.flow` and never imports Kivy; widgets and screens only render that state.
Nothing in this package talks to the network: sync health is read from the local database.
"""
