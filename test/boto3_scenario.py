"""A Kinesis scenario driven through boto3, the way a Python user runs it.

Usage: python3 boto3_scenario.py <endpoint-url> <run-id>

Runs against a Sluice server started by test/boto3.test.ts and prints one JSON document with
what it observed (statuses, shard ids, data read back as hex, error codes and messages). The
node test asserts on that document. Anything that goes wrong outside the expected error cases
makes the script print `SCENARIO FAILED: ...` on stderr and exit non-zero.
"""

import hashlib
import json
import sys
import time
import traceback
from datetime import datetime, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = '000000000000'
REGION = 'us-east-1'


class ScenarioError(Exception):
    pass


def check(condition, message):
    if not condition:
        raise ScenarioError(message)


def make_client(endpoint):
    # `retries={'max_attempts': 1}` would still allow one retry (botocore counts max_attempts as
    # retries after the first attempt); total_max_attempts=1 means exactly one attempt.
    config = Config(
        retries={'total_max_attempts': 1, 'mode': 'standard'},
        connect_timeout=5,
        read_timeout=15,
    )
    return boto3.client(
        'kinesis',
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id='x',
        aws_secret_access_key='y',
        config=config,
    )


def client_error(call, **kwargs):
    """Call and expect a ClientError; return what a user sees of it."""
    try:
        result = call(**kwargs)
    except ClientError as e:
        return {
            'code': e.response['Error']['Code'],
            'message': e.response['Error']['Message'],
            'status': e.response['ResponseMetadata']['HTTPStatusCode'],
            'retryAttempts': e.response['ResponseMetadata'].get('RetryAttempts'),
            'exceptionClass': type(e).__name__,
        }
    raise ScenarioError(f'{call.__name__} {kwargs!r} succeeded but an error was expected: {result!r}')


def hash_key(partition_key):
    return int.from_bytes(hashlib.md5(partition_key.encode('utf-8')).digest(), 'big')


def shard_for(hash_value, shards):
    for shard in shards:
        r = shard['HashKeyRange']
        if int(r['StartingHashKey']) <= hash_value <= int(r['EndingHashKey']):
            return shard['ShardId']
    raise ScenarioError(f'no shard holds hash key {hash_value}')


def read_all(client, shard_iterator, **extra):
    """Follow NextShardIterator until a read returns nothing new."""
    out = []
    for _ in range(20):
        response = client.get_records(ShardIterator=shard_iterator, **extra)
        out.extend(response['Records'])
        check('MillisBehindLatest' in response, 'GetRecords response without MillisBehindLatest')
        if not response['Records']:
            break
        shard_iterator = response['NextShardIterator']
    return out


def record_view(record):
    ts = record['ApproximateArrivalTimestamp']
    check(isinstance(ts, datetime) and ts.tzinfo is not None, f'arrival timestamp is not an aware datetime: {ts!r}')
    check(isinstance(record['Data'], bytes), f'Data is not bytes: {type(record["Data"])!r}')
    return {
        'seq': record['SequenceNumber'],
        'pk': record['PartitionKey'],
        'dataHex': record['Data'].hex(),
        'arrivalAgeSeconds': (datetime.now(timezone.utc) - ts).total_seconds(),
    }


def scenario(endpoint, run_id):
    client = make_client(endpoint)
    out = {'boto3': boto3.__version__}
    name = f'boto3-{run_id}-main'
    other = f'boto3-{run_id}-other'
    missing = f'boto3-{run_id}-missing'
    arn = f'arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}'

    # ---- create, observe CREATING, wait with a fast waiter ------------------------------------
    created = client.create_stream(StreamName=name, ShardCount=3)
    out['createKeys'] = sorted(k for k in created if k != 'ResponseMetadata')
    first = client.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']
    out['firstStatus'] = first['StreamStatus']
    described_creating = client.describe_stream(StreamName=name)['StreamDescription']
    out['creatingShards'] = len(described_creating['Shards'])
    out['putWhileCreating'] = client_error(client.put_record, StreamName=name, Data=b'x', PartitionKey='p')
    client.create_stream(StreamName=other, ShardCount=1)
    started = time.monotonic()
    client.get_waiter('stream_exists').wait(StreamName=name, WaiterConfig={'Delay': 1, 'MaxAttempts': 30})
    client.get_waiter('stream_exists').wait(StreamARN=f'arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{other}',
                                            WaiterConfig={'Delay': 1, 'MaxAttempts': 30})
    out['waitSeconds'] = time.monotonic() - started

    summary = client.describe_stream_summary(StreamARN=arn)['StreamDescriptionSummary']
    out['summary'] = {
        'StreamName': summary['StreamName'],
        'StreamARN': summary['StreamARN'],
        'StreamStatus': summary['StreamStatus'],
        'OpenShardCount': summary['OpenShardCount'],
        'RetentionPeriodHours': summary['RetentionPeriodHours'],
        'EncryptionType': summary['EncryptionType'],
        'StreamMode': summary.get('StreamModeDetails', {}).get('StreamMode'),
        'ConsumerCount': summary.get('ConsumerCount'),
        'EnhancedMonitoring': summary['EnhancedMonitoring'],
        'creationAgeSeconds': (datetime.now(timezone.utc) - summary['StreamCreationTimestamp']).total_seconds(),
    }

    # ---- listing and paginators ---------------------------------------------------------------
    pages = list(client.get_paginator('list_streams').paginate(PaginationConfig={'PageSize': 1}))
    out['listStreamsPages'] = [page['StreamNames'] for page in pages]
    out['listStreamsHasMore'] = [page['HasMoreStreams'] for page in pages]
    full = client.get_paginator('list_streams').paginate().build_full_result()
    out['listStreamsAll'] = full['StreamNames']
    out['listStreamsSummaries'] = [
        {'name': s['StreamName'], 'arn': s['StreamARN'], 'status': s['StreamStatus'],
         'mode': s['StreamModeDetails']['StreamMode']}
        for s in full['StreamSummaries']
    ]
    out['listStreamsAfter'] = client.list_streams(ExclusiveStartStreamName=name)['StreamNames']

    shards_paginator = client.get_paginator('list_shards')
    one_page = list(shards_paginator.paginate(StreamName=name))
    out['listShardsOnePage'] = {
        'pages': len(one_page),
        'ids': [s['ShardId'] for p in one_page for s in p['Shards']],
        'ranges': [[s['HashKeyRange']['StartingHashKey'], s['HashKeyRange']['EndingHashKey']]
                   for p in one_page for s in p['Shards']],
        'hasNextToken': 'NextToken' in one_page[-1],
    }
    shards = [s for p in one_page for s in p['Shards']]
    # The botocore ListShards paginator re-sends StreamName with NextToken, which the service
    # rejects (boto/botocore#2009): a page size below the shard count fails on page two.
    try:
        list(shards_paginator.paginate(StreamName=name, PaginationConfig={'PageSize': 1}))
        out['listShardsPageSize1'] = {'error': None}
    except ClientError as e:
        out['listShardsPageSize1'] = {'error': {'code': e.response['Error']['Code'],
                                                'message': e.response['Error']['Message']}}
    # What users do instead: follow NextToken alone.
    manual = []
    response = client.list_shards(StreamARN=arn, MaxResults=1)
    manual.append([s['ShardId'] for s in response['Shards']])
    while 'NextToken' in response:
        response = client.list_shards(NextToken=response['NextToken'], MaxResults=1)
        manual.append([s['ShardId'] for s in response['Shards']])
        check(len(manual) < 10, 'ListShards NextToken chain does not end')
    out['listShardsManualPages'] = manual
    first_token = client.list_shards(StreamName=name, MaxResults=1)['NextToken']
    resumed = shards_paginator.paginate(PaginationConfig={'StartingToken': first_token, 'PageSize': 1})
    out['listShardsResumed'] = [s['ShardId'] for p in resumed for s in p['Shards']]
    out['listShardsAfterId'] = [s['ShardId'] for s in client.list_shards(
        StreamName=name, ExclusiveStartShardId='shardId-000000000000')['Shards']]
    out['nextTokenWithStreamName'] = client_error(client.list_shards, StreamName=name, NextToken=first_token)

    described = list(client.get_paginator('describe_stream').paginate(StreamName=name,
                                                                     PaginationConfig={'PageSize': 1}))
    out['describeStreamPages'] = [[s['ShardId'] for s in p['StreamDescription']['Shards']] for p in described]
    out['describeStreamHasMore'] = [p['StreamDescription']['HasMoreShards'] for p in described]
    plain = client.describe_stream(StreamARN=arn)['StreamDescription']
    out['describeStream'] = {
        'StreamName': plain['StreamName'],
        'StreamARN': plain['StreamARN'],
        'StreamStatus': plain['StreamStatus'],
        'HasMoreShards': plain['HasMoreShards'],
        'shards': [s['ShardId'] for s in plain['Shards']],
        'StreamMode': plain.get('StreamModeDetails', {}).get('StreamMode'),
        'RetentionPeriodHours': plain['RetentionPeriodHours'],
        'EncryptionType': plain['EncryptionType'],
        'startingSequenceNumbers': [s['SequenceNumberRange']['StartingSequenceNumber'] for s in plain['Shards']],
    }

    # ---- writes -----------------------------------------------------------------------------
    puts = []

    def put(label, data, partition_key, **extra):
        response = client.put_record(Data=data, PartitionKey=partition_key, **extra)
        check(set(response) - {'ResponseMetadata'} == {'ShardId', 'SequenceNumber'},
              f'PutRecord {label} returned keys {sorted(response)}')
        puts.append({'label': label, 'dataHex': data.hex(), 'pk': partition_key,
                     'shard': response['ShardId'], 'seq': response['SequenceNumber'],
                     'expectedShard': shard_for(int(extra['ExplicitHashKey']) if 'ExplicitHashKey' in extra
                                                else hash_key(partition_key), shards)})

    # The same partition key twice: same shard, increasing sequence numbers.
    put('text', 'héllo wörld'.encode('utf-8'), 'user-1', StreamName=name)
    put('binary', bytes([0x00, 0xff, 0xfe, 0x80, 0x81, 0xc3, 0x28, 0x0a, 0x0d]), 'user-1', StreamName=name)
    put('empty', b'', 'user-2', StreamARN=arn)
    put('all-bytes', bytes(range(256)), 'user-3', StreamARN=arn)
    put('explicit-max', b'last shard', 'ignored-key', StreamName=name,
        ExplicitHashKey=str(2 ** 128 - 1))
    put('explicit-zero', b'first shard', 'ignored-key', StreamARN=arn, ExplicitHashKey='0')
    out['puts'] = puts

    batch = [
        {'Data': b'\xde\xad\xbe\xef', 'PartitionKey': 'batch-a'},
        {'Data': b'', 'PartitionKey': 'batch-b'},
        {'Data': 'ünïcödé'.encode('utf-8'), 'PartitionKey': 'batch-c', 'ExplicitHashKey': str(2 ** 127)},
        {'Data': b'\x80' * 1000, 'PartitionKey': 'batch-d', 'ExplicitHashKey': '1'},
    ]
    put_records = client.put_records(StreamName=name, Records=batch)
    out['putRecords'] = {
        'FailedRecordCount': put_records['FailedRecordCount'],
        'records': [
            {'dataHex': entry['Data'].hex(), 'pk': entry['PartitionKey'], 'shard': r.get('ShardId'),
             'seq': r.get('SequenceNumber'), 'errorCode': r.get('ErrorCode'),
             'expectedShard': shard_for(int(entry['ExplicitHashKey']) if 'ExplicitHashKey' in entry
                                        else hash_key(entry['PartitionKey']), shards)}
            for entry, r in zip(batch, put_records['Records'])
        ],
    }
    by_arn = client.put_records(StreamARN=arn, Records=[{'Data': b'\x01\x02', 'PartitionKey': 'arn-batch',
                                                         'ExplicitHashKey': '0'}])
    out['putRecordsByArn'] = {'FailedRecordCount': by_arn['FailedRecordCount'],
                              'shard': by_arn['Records'][0]['ShardId'], 'seq': by_arn['Records'][0]['SequenceNumber']}

    # ---- reads ------------------------------------------------------------------------------
    reads = {}
    for shard in shards:
        it = client.get_shard_iterator(StreamName=name, ShardId=shard['ShardId'],
                                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        reads[shard['ShardId']] = [record_view(r) for r in read_all(client, it)]
    out['reads'] = reads

    shard0 = 'shardId-000000000000'
    shard0_seqs = [r['seq'] for r in reads[shard0]]
    check(len(shard0_seqs) >= 3, f'expected at least 3 records on {shard0}, got {len(shard0_seqs)}')
    at_seq = client.get_shard_iterator(StreamARN=arn, ShardId=shard0, ShardIteratorType='AT_SEQUENCE_NUMBER',
                                       StartingSequenceNumber=shard0_seqs[1])['ShardIterator']
    out['atSequence'] = [r['SequenceNumber'] for r in client.get_records(ShardIterator=at_seq)['Records']]
    after_seq = client.get_shard_iterator(StreamName=name, ShardId=shard0,
                                          ShardIteratorType='AFTER_SEQUENCE_NUMBER',
                                          StartingSequenceNumber=shard0_seqs[1])['ShardIterator']
    out['afterSequence'] = [r['SequenceNumber'] for r in client.get_records(ShardIterator=after_seq)['Records']]
    limited = client.get_records(ShardIterator=at_seq, Limit=1, StreamARN=arn)
    out['limit1'] = {'count': len(limited['Records']), 'seq': limited['Records'][0]['SequenceNumber'],
                     'nextDiffers': limited['NextShardIterator'] != at_seq}
    out['reusedIterator'] = [r['SequenceNumber'] for r in client.get_records(ShardIterator=at_seq)['Records']]

    latest = client.get_shard_iterator(StreamName=name, ShardId=shard0, ShardIteratorType='LATEST')['ShardIterator']
    empty = client.get_records(ShardIterator=latest)
    out['latestBefore'] = len(empty['Records'])
    fresh = client.put_record(StreamName=name, Data=b'\xffafter latest', PartitionKey='late', ExplicitHashKey='5')
    after = client.get_records(ShardIterator=empty['NextShardIterator'])['Records']
    out['latestAfter'] = [{'seq': r['SequenceNumber'], 'dataHex': r['Data'].hex()} for r in after]
    out['latestPutSeq'] = fresh['SequenceNumber']

    at_ts = client.get_shard_iterator(StreamName=name, ShardId=shard0, ShardIteratorType='AT_TIMESTAMP',
                                      Timestamp=datetime(2000, 1, 1, tzinfo=timezone.utc))['ShardIterator']
    out['atOldTimestamp'] = len(read_all(client, at_ts))

    # ---- errors -----------------------------------------------------------------------------
    errors = {}
    errors['describeMissing'] = client_error(client.describe_stream, StreamName=missing)
    errors['summaryMissingArn'] = client_error(client.describe_stream_summary,
                                               StreamARN=f'arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{missing}')
    errors['createInvalidName'] = client_error(client.create_stream, StreamName='bad name!', ShardCount=1)
    errors['createDuplicate'] = client_error(client.create_stream, StreamName=name, ShardCount=1)
    errors['getRecordsGarbage'] = client_error(client.get_records, ShardIterator='garbage-iterator')
    errors['putRecordMissing'] = client_error(client.put_record, StreamName=missing, Data=b'\x00', PartitionKey='p')
    errors['putRecordsMissing'] = client_error(client.put_records, StreamName=missing,
                                               Records=[{'Data': b'\x00', 'PartitionKey': 'p'}])
    errors['hashKeyTooLarge'] = client_error(client.put_record, StreamName=name, Data=b'x', PartitionKey='p',
                                             ExplicitHashKey=str(2 ** 128))
    errors['shardMissing'] = client_error(client.get_shard_iterator, StreamName=name, ShardId='shardId-000000000005',
                                          ShardIteratorType='TRIM_HORIZON')
    errors['atSequenceNoNumber'] = client_error(client.get_shard_iterator, StreamName=name, ShardId=shard0,
                                                ShardIteratorType='AT_SEQUENCE_NUMBER')
    errors['trimHorizonWithNumber'] = client_error(client.get_shard_iterator, StreamName=name, ShardId=shard0,
                                                   ShardIteratorType='TRIM_HORIZON',
                                                   StartingSequenceNumber=shard0_seqs[0])
    errors['deleteMissing'] = client_error(client.delete_stream, StreamName=missing)
    out['errors'] = errors
    out['modeledClassIsResourceNotFound'] = False
    try:
        client.describe_stream(StreamName=missing)
    except client.exceptions.ResourceNotFoundException:
        out['modeledClassIsResourceNotFound'] = True

    # ---- delete ----------------------------------------------------------------------------
    kept_iterator = client.get_shard_iterator(StreamName=name, ShardId=shard0,
                                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    client.delete_stream(StreamARN=arn)
    deleting = client.describe_stream(StreamName=name)['StreamDescription']
    out['afterDelete'] = {'status': deleting['StreamStatus'], 'shards': len(deleting['Shards'])}
    out['putWhileDeleting'] = client_error(client.put_record, StreamName=name, Data=b'x', PartitionKey='p')
    started = time.monotonic()
    client.get_waiter('stream_not_exists').wait(StreamName=name, WaiterConfig={'Delay': 1, 'MaxAttempts': 30})
    out['deleteWaitSeconds'] = time.monotonic() - started
    out['describeDeleted'] = client_error(client.describe_stream, StreamName=name)
    out['getRecordsDeleted'] = client_error(client.get_records, ShardIterator=kept_iterator)
    client.delete_stream(StreamName=other, EnforceConsumerDeletion=True)
    client.get_waiter('stream_not_exists').wait(StreamName=other, WaiterConfig={'Delay': 1, 'MaxAttempts': 30})
    out['streamsAtEnd'] = client.list_streams()['StreamNames']
    return out


def main():
    if len(sys.argv) != 3:
        print('usage: boto3_scenario.py <endpoint-url> <run-id>', file=sys.stderr)
        return 2
    try:
        out = scenario(sys.argv[1], sys.argv[2])
    except ScenarioError as e:
        print(f'SCENARIO FAILED: {e}', file=sys.stderr)
        return 1
    except ClientError as e:
        print(f'SCENARIO FAILED: unexpected {e.response["Error"]["Code"]}: {e.response["Error"].get("Message")} '
              f'({e.operation_name})', file=sys.stderr)
        traceback.print_exc()
        return 1
    except Exception as e:  # noqa: BLE001 - any other failure must surface with its traceback
        print(f'SCENARIO FAILED: {type(e).__name__}: {e}', file=sys.stderr)
        traceback.print_exc()
        return 1
    print(json.dumps(out, default=str))
    return 0


if __name__ == '__main__':
    sys.exit(main())
