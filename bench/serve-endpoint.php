<?php
// The serve bench's PHP endpoint (run by `php -S`, which closes every connection after one reply):
// answers with the job's workload as response_string, after spending ?cpu_us= microseconds of CPU when asked.
$cpu = (int) ($_GET['cpu_us'] ?? 0);
if ($cpu > 0) {
    $used = function (): float {
        $r = getrusage();
        return ($r['ru_utime.tv_sec'] + $r['ru_stime.tv_sec']) * 1e6 + $r['ru_utime.tv_usec'] + $r['ru_stime.tv_usec'];
    };
    $until = $used() + $cpu;
    do {
        for ($i = 0; $i < 100; $i++);
    } while ($used() < $until);
}
header('Content-Type: application/json');
echo json_encode(['gearman_ret' => 0, 'response_string' => $_POST['workload'] ?? '']);
