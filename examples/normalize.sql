-- E.164 forms, without any API call: find duplicates written differently.
SELECT tg_normalize(phone) AS number, count(*) AS customers, list(name) AS names
FROM 'examples/customers.csv'
GROUP BY ALL
ORDER BY customers DESC, number;
