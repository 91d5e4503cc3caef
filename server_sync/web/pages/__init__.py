"""The pages of the web app, one module each: a function that takes a `guard.Visit` and returns
what the page shows (`guard.PageResult`), thin, calling the analysis code the commands call.
The same function answers the page, its downloads and its /api/v1 twin."""
