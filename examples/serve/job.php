<?php
// An endpoint for glimpse-cluster serve (and Driveshaft): the job arrives as a
// multipart/form-data POST, so PHP fills $_POST with function_name, job_handle,
// unique and workload (the job's exact bytes). A pool with "request_format": "json"
// sends a JSON body instead: read it with json_decode(file_get_contents('php://input')).
// Run it with: php -S 127.0.0.1:8080 -t examples/serve
header('Content-Type: application/json');

$body = $_POST ?: (json_decode(file_get_contents('php://input'), true) ?? []);
$function = $body['function_name'] ?? '';
$workload = $body['workload'] ?? base64_decode($body['workload_base64'] ?? '');

switch ($function) {
    case 'Sum':
    case 'Sum2':
        $numbers = json_decode($workload, true);
        if (!is_array($numbers)) {
            echo json_encode(['gearman_ret' => 1, 'response_string' => 'expected a JSON array of numbers']);
            break;
        }
        echo json_encode(['gearman_ret' => 0, 'response_string' => (string) array_sum($numbers)]);
        break;
    case 'ShopStats':
        echo json_encode(['gearman_ret' => 0, 'response_string' => json_encode(['shop' => $workload, 'views' => strlen($workload)])]);
        break;
    default:
        // Any gearman_ret other than 0 fails the job: WORK_EXCEPTION carrying response_string.
        echo json_encode(['gearman_ret' => 1, 'response_string' => "unknown function $function"]);
}
