-- One row per distinct number, with its E.164 form and status, for Bern only.
-- The filter goes INSIDE the argument: an outer WHERE would not reduce what is checked.
SELECT *
FROM telegram_check(ARRAY(SELECT phone FROM 'examples/customers.csv' WHERE city = 'Bern'))
ORDER BY number;
